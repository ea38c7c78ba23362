-- Defence in depth: the service works as the role licensing_app, which may
-- read and write rows but not change the schema, and row-level security keeps
-- each license's applications, jobs and idempotency keys out of reach of a
-- query made for another license, even one that forgets its license filter.
-- Also the table behind the limit on failed admin authentications.
--
-- Migrations keep running as the owner (the user of DATABASE_URL). The
-- service's pool switches to licensing_app after connecting (SET ROLE, see
-- internal/postgres.NewPool), so the owner must be a member of it: this
-- migration grants that. Creating the role needs CREATEROLE (or a superuser);
-- without it, create the role beforehand:
--     CREATE ROLE licensing_app NOLOGIN; GRANT licensing_app TO <owner>;

CREATE TABLE auth_failures (
    scope        text        NOT NULL,
    client       text        NOT NULL,
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL,
    PRIMARY KEY (scope, client),
    CONSTRAINT auth_failures_scope_length CHECK (char_length(scope) BETWEEN 1 AND 32),
    CONSTRAINT auth_failures_client_length CHECK (char_length(client) BETWEEN 1 AND 64),
    CONSTRAINT auth_failures_positive CHECK (failures >= 1)
);
CREATE INDEX auth_failures_window_start_idx ON auth_failures (window_start);
COMMENT ON TABLE auth_failures IS
    'Failed authentications per client and scope in the current fixed window (internal/authlimit): after too many, the client is refused with 429 until the window ends. Rows of ended windows are deleted as new failures come in.';
COMMENT ON COLUMN auth_failures.scope IS 'What was authenticated: admin (the admin API and console).';
COMMENT ON COLUMN auth_failures.client IS 'The client address as the service sees it (the peer, or X-Forwarded-For from a trusted proxy).';
COMMENT ON COLUMN auth_failures.window_start IS 'When the first failure of the current window happened; the window lasts the configured length from here.';
COMMENT ON COLUMN auth_failures.failures IS 'Failed attempts in the current window.';

DO $migration$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'licensing_app') THEN
        CREATE ROLE licensing_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT pg_has_role(current_user, 'licensing_app', 'MEMBER') THEN
        EXECUTE format('GRANT licensing_app TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'migration 000004 cannot create the role licensing_app or grant it to %: %', current_user, SQLERRM
        USING HINT = 'As a superuser: CREATE ROLE licensing_app NOLOGIN; GRANT licensing_app TO ' || current_user || ';';
END
$migration$;

-- Rows, not schema: no CREATE on the schema, no TRUNCATE, no ownership.
GRANT USAGE ON SCHEMA public TO licensing_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON licenses, signing_keys, admin_keys, applications, jobs, idempotency_keys, auth_failures TO licensing_app;
-- The audit trail is append-only for the service as well as by trigger.
GRANT SELECT, INSERT ON license_events TO licensing_app;
GRANT SELECT ON settings, schema_migrations, license_usage, license_window_plain_count TO licensing_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO licensing_app;

-- The tenant's rows: a session working for a license sets
-- licensing.license_id for its transaction (set_config(..., true), see
-- internal/postgres.WithLicenseTx); without it a query sees no rows at all.
CREATE FUNCTION licensing_current_license()
RETURNS uuid
LANGUAGE sql
STABLE
AS $$
    SELECT NULLIF(current_setting('licensing.license_id', true), '')::uuid
$$;
COMMENT ON FUNCTION licensing_current_license() IS
    'The license the current transaction works for (setting licensing.license_id), or NULL: the key of the row-level security policies.';

-- Reads that span licenses on purpose (the admin console's usage list) say so
-- with the setting licensing.all_licenses = on for their transaction
-- (internal/postgres.WithAllLicensesTx). They may read, never write.
CREATE FUNCTION licensing_all_licenses()
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT COALESCE(current_setting('licensing.all_licenses', true), '') = 'on'
$$;
COMMENT ON FUNCTION licensing_all_licenses() IS
    'Whether the current transaction reads across licenses on purpose (setting licensing.all_licenses = on): admin reads only; the policies never let it write.';

ALTER TABLE applications ENABLE ROW LEVEL SECURITY;
CREATE POLICY applications_of_current_license ON applications TO licensing_app
    USING (license_id = licensing_current_license() OR licensing_all_licenses())
    WITH CHECK (license_id = licensing_current_license());

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_of_current_license ON jobs TO licensing_app
    USING (license_id = licensing_current_license() OR licensing_all_licenses())
    WITH CHECK (license_id = licensing_current_license());

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_of_current_license ON idempotency_keys TO licensing_app
    USING (license_id = licensing_current_license() OR licensing_all_licenses())
    WITH CHECK (license_id = licensing_current_license());

-- The usage views read with the caller's rights, so the policies apply
-- through them too (a view otherwise reads with its owner's).
ALTER VIEW license_usage SET (security_invoker = true);
ALTER VIEW license_window_plain_count SET (security_invoker = true);

-- Pruning works across licenses by design: it runs with the owner's rights,
-- as pg_cron's job does, and takes no input.
ALTER FUNCTION licensing_prune_jobs() SECURITY DEFINER SET search_path = pg_catalog, public;
REVOKE EXECUTE ON FUNCTION licensing_prune_jobs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION licensing_prune_jobs() TO licensing_app;
