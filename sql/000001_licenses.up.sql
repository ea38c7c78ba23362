-- Licenses, their append-only audit trail, the keys that sign license tokens
-- and the hashed admin keys. Every other table hangs off licenses.

CREATE TABLE licenses (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              text        NOT NULL,
    tenant_name            text        NOT NULL,
    max_apps               integer     NOT NULL,
    max_executions_per_24h integer     NOT NULL,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz NOT NULL,
    status                 text        NOT NULL DEFAULT 'ACTIVE',
    token_version          integer     NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT licenses_tenant_id_key UNIQUE (tenant_id),
    CONSTRAINT tenant_id_format CHECK (tenant_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
    CONSTRAINT tenant_name_length CHECK (char_length(tenant_name) BETWEEN 1 AND 255),
    CONSTRAINT max_apps_non_negative CHECK (max_apps >= 0),
    CONSTRAINT max_executions_non_negative CHECK (max_executions_per_24h >= 0),
    CONSTRAINT validity_ordered CHECK (valid_from < valid_to),
    CONSTRAINT status_known CHECK (status IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
    CONSTRAINT token_version_positive CHECK (token_version >= 1)
);

COMMENT ON TABLE licenses IS 'One license per tenant: its limits, validity dates and lifecycle status. Never deleted; REVOKED is terminal.';
COMMENT ON COLUMN licenses.id IS 'License id; the sub claim of its license tokens.';
COMMENT ON COLUMN licenses.tenant_id IS 'The customer''s stable identifier, unique across licenses.';
COMMENT ON COLUMN licenses.tenant_name IS 'The customer''s display name.';
COMMENT ON COLUMN licenses.max_apps IS 'How many applications may be registered (active) at once.';
COMMENT ON COLUMN licenses.max_executions_per_24h IS 'How many job starts are admitted in any sliding 24-hour window.';
COMMENT ON COLUMN licenses.valid_from IS 'Before this instant the license is NOT_YET_VALID and every operation is refused.';
COMMENT ON COLUMN licenses.valid_to IS 'From this instant on the license is EXPIRED and every operation is refused.';
COMMENT ON COLUMN licenses.status IS 'Administrative status: ACTIVE <-> SUSPENDED; REVOKED is terminal. EXPIRED and NOT_YET_VALID follow from the dates.';
COMMENT ON COLUMN licenses.token_version IS 'License tokens carry this number; raising it (revoke_previous) invalidates every earlier token.';
COMMENT ON COLUMN licenses.created_at IS 'When the license was created.';
COMMENT ON COLUMN licenses.updated_at IS 'When the license was last changed.';

-- license_effective_status is the one definition of what a license may do at
-- instant at: administrative status first, then the validity dates.
CREATE FUNCTION license_effective_status(status text, valid_from timestamptz, valid_to timestamptz, at timestamptz)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN status = 'REVOKED' THEN 'REVOKED'
        WHEN status = 'SUSPENDED' THEN 'SUSPENDED'
        WHEN at < valid_from THEN 'NOT_YET_VALID'
        WHEN at >= valid_to THEN 'EXPIRED'
        ELSE 'ACTIVE'
    END
$$;
COMMENT ON FUNCTION license_effective_status(text, timestamptz, timestamptz, timestamptz) IS
    'ACTIVE, SUSPENDED, REVOKED, NOT_YET_VALID or EXPIRED: the status a license has at the given instant.';

-- Licenses are kept forever: revocation is a status, not a deletion.
CREATE FUNCTION licenses_refuse_delete() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'licenses are never deleted; revoke license % instead', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER licenses_no_delete BEFORE DELETE ON licenses
    FOR EACH ROW EXECUTE FUNCTION licenses_refuse_delete();

CREATE TABLE license_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    license_id uuid        NOT NULL REFERENCES licenses (id),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    before     jsonb,
    after      jsonb,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT action_known CHECK (action IN ('CREATE', 'UPDATE', 'SUSPEND', 'REACTIVATE', 'REVOKE', 'TOKEN_ISSUE')),
    CONSTRAINT reason_length CHECK (reason IS NULL OR char_length(reason) <= 1000)
);
CREATE INDEX license_events_license_id_idx ON license_events (license_id, id);

COMMENT ON TABLE license_events IS 'Append-only audit trail of admin changes, written in the same transaction as the change.';
COMMENT ON COLUMN license_events.id IS 'Order of the events.';
COMMENT ON COLUMN license_events.license_id IS 'The license that changed.';
COMMENT ON COLUMN license_events.actor IS 'Who made the change: the admin key''s name (never the key itself).';
COMMENT ON COLUMN license_events.action IS 'What happened: CREATE, UPDATE, SUSPEND, REACTIVATE, REVOKE or TOKEN_ISSUE.';
COMMENT ON COLUMN license_events.before IS 'The license''s fields before the change (NULL for CREATE).';
COMMENT ON COLUMN license_events.after IS 'The license''s fields after the change (for TOKEN_ISSUE: the token''s id and expiry, never the token).';
COMMENT ON COLUMN license_events.reason IS 'The reason the admin gave, if any.';
COMMENT ON COLUMN license_events.created_at IS 'When the change was committed.';

CREATE FUNCTION license_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'license_events is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER license_events_append_only BEFORE UPDATE OR DELETE ON license_events
    FOR EACH ROW EXECUTE FUNCTION license_events_refuse_change();

CREATE TABLE signing_keys (
    kid          text        PRIMARY KEY,
    algorithm    text        NOT NULL DEFAULT 'EdDSA',
    public_key   bytea       NOT NULL,
    private_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at   timestamptz,
    CONSTRAINT algorithm_eddsa CHECK (algorithm = 'EdDSA'),
    CONSTRAINT public_key_ed25519 CHECK (octet_length(public_key) = 32),
    CONSTRAINT private_key_ed25519 CHECK (octet_length(private_key) = 64)
);
COMMENT ON TABLE signing_keys IS 'Ed25519 keys that sign license tokens, shared by every replica. The newest unretired key signs; every unretired key verifies.';
COMMENT ON COLUMN signing_keys.kid IS 'Key id, the kid header of the tokens it signs.';
COMMENT ON COLUMN signing_keys.algorithm IS 'Always EdDSA (Ed25519).';
COMMENT ON COLUMN signing_keys.public_key IS 'The 32-byte Ed25519 public key, published at /.well-known/jwks.json.';
COMMENT ON COLUMN signing_keys.private_key IS 'The 64-byte Ed25519 private key. Never leaves the server.';
COMMENT ON COLUMN signing_keys.created_at IS 'When the key was made; the newest unretired key signs.';
COMMENT ON COLUMN signing_keys.retired_at IS 'From this instant the key neither signs nor verifies.';

CREATE TABLE admin_keys (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text        NOT NULL,
    key_hash     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at   timestamptz,
    CONSTRAINT admin_keys_name_key UNIQUE (name),
    CONSTRAINT admin_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT key_hash_sha256 CHECK (octet_length(key_hash) = 32)
);
COMMENT ON TABLE admin_keys IS 'Admin API keys beyond LICENSING_ADMIN_TOKEN, stored as SHA-256 hashes.';
COMMENT ON COLUMN admin_keys.id IS 'Key id.';
COMMENT ON COLUMN admin_keys.name IS 'Who holds the key; recorded as the actor of audit events.';
COMMENT ON COLUMN admin_keys.key_hash IS 'SHA-256 of the key; the key itself is shown once and never stored.';
COMMENT ON COLUMN admin_keys.created_at IS 'When the key was made.';
COMMENT ON COLUMN admin_keys.revoked_at IS 'From this instant the key is refused.';
