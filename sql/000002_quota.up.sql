-- Quota enforcement: the applications a license registers, the jobs it starts
-- (each numbered by a gapless per-license sequence, so the executions in the
-- sliding 24-hour window are counted with two index lookups instead of a
-- COUNT), idempotency keys, the retention setting, the views that report usage
-- and the function that prunes old jobs. queries/jobs.sql holds the decision.

CREATE TABLE applications (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id  uuid        NOT NULL REFERENCES licenses (id),
    name        text        NOT NULL,
    description text,
    version     text,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at  timestamptz,
    CONSTRAINT application_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT application_description_length CHECK (description IS NULL OR char_length(description) <= 10000),
    CONSTRAINT application_version_length CHECK (version IS NULL OR char_length(version) <= 255),
    CONSTRAINT application_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT application_deleted_when_inactive CHECK (is_active = (deleted_at IS NULL))
);
-- Names are unique among a license's registered (active) applications only:
-- a deleted application's name may be registered again. Under the license lock
-- the registration checks this itself; the index is the backstop.
CREATE UNIQUE INDEX applications_active_name_key ON applications (license_id, name) WHERE is_active;
CREATE INDEX applications_license_created_idx ON applications (license_id, created_at, id);

COMMENT ON TABLE applications IS 'Applications registered under a license. Active ones count against licenses.max_apps; deleted ones stay (is_active false) with their job history.';
COMMENT ON COLUMN applications.id IS 'Application id.';
COMMENT ON COLUMN applications.license_id IS 'The license the application belongs to; every access is scoped by it.';
COMMENT ON COLUMN applications.name IS 'Name, 1 to 255 characters, unique among the license''s active applications.';
COMMENT ON COLUMN applications.description IS 'Free text from the client.';
COMMENT ON COLUMN applications.version IS 'The application''s version, as the client reports it.';
COMMENT ON COLUMN applications.metadata IS 'A JSON object from the client, stored as given.';
COMMENT ON COLUMN applications.is_active IS 'True while registered; false once deleted (it then no longer counts against max_apps).';
COMMENT ON COLUMN applications.created_at IS 'When the application was registered.';
COMMENT ON COLUMN applications.deleted_at IS 'When the application was deleted; NULL while active.';

CREATE TABLE jobs (
    id             uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id     uuid             NOT NULL REFERENCES licenses (id),
    application_id uuid             NOT NULL REFERENCES applications (id),
    seq            bigint           NOT NULL,
    name           text             NOT NULL,
    description    text,
    metadata       jsonb            NOT NULL DEFAULT '{}',
    status         text             NOT NULL DEFAULT 'RUNNING',
    started_at     timestamptz      NOT NULL,
    finished_at    timestamptz,
    execution_time double precision GENERATED ALWAYS AS (EXTRACT(EPOCH FROM (finished_at - started_at))::double precision) STORED,
    result         jsonb,
    error_message  text,
    cpu_usage      double precision,
    memory_usage   double precision,
    CONSTRAINT job_seq_positive CHECK (seq >= 1),
    CONSTRAINT job_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT job_description_length CHECK (description IS NULL OR char_length(description) <= 10000),
    CONSTRAINT job_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT job_status_known CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
    CONSTRAINT job_finished_when_not_running CHECK ((status = 'RUNNING') = (finished_at IS NULL)),
    CONSTRAINT job_finished_after_start CHECK (finished_at IS NULL OR finished_at >= started_at),
    CONSTRAINT job_error_message_length CHECK (error_message IS NULL OR char_length(error_message) <= 10000),
    CONSTRAINT job_cpu_usage_percent CHECK (cpu_usage IS NULL OR cpu_usage BETWEEN 0 AND 100),
    CONSTRAINT job_memory_usage_non_negative CHECK (memory_usage IS NULL OR memory_usage >= 0)
);
-- The per-license sequence: unique, so two starts that ever computed the same
-- count would collide here instead of both being admitted. It also finds a
-- license's newest job (ORDER BY seq DESC LIMIT 1) and pages its job list.
CREATE UNIQUE INDEX jobs_license_seq_key ON jobs (license_id, seq);
-- The window index: the first job started after t - 24h is one descent of it,
-- and seq comes with the entry (index-only scan).
CREATE INDEX jobs_license_started_at_idx ON jobs (license_id, started_at, seq);
CREATE INDEX jobs_application_seq_idx ON jobs (application_id, seq);

COMMENT ON TABLE jobs IS 'Job executions. Each start counts against licenses.max_executions_per_24h for the 24 hours after started_at. Rows older than settings.job_retention are pruned by licensing_prune_jobs().';
COMMENT ON COLUMN jobs.id IS 'Job id.';
COMMENT ON COLUMN jobs.license_id IS 'The license the job counts against; every access is scoped by it.';
COMMENT ON COLUMN jobs.application_id IS 'The application that ran the job (it may have been deleted since).';
COMMENT ON COLUMN jobs.seq IS 'Gapless per-license start number: max(seq) + 1, assigned under the license row lock, so seq and started_at grow together and the executions in the window are last seq - first seq in window + 1.';
COMMENT ON COLUMN jobs.name IS 'Name, 1 to 255 characters.';
COMMENT ON COLUMN jobs.description IS 'Free text from the client.';
COMMENT ON COLUMN jobs.metadata IS 'A JSON object from the client, stored as given.';
COMMENT ON COLUMN jobs.status IS 'RUNNING until finished, then COMPLETED or FAILED.';
COMMENT ON COLUMN jobs.started_at IS 'When the start was admitted: the clock after the license lock, never earlier than the license''s previous start. The job counts while started_at > now - 24 hours.';
COMMENT ON COLUMN jobs.finished_at IS 'When the job was finished; NULL while RUNNING.';
COMMENT ON COLUMN jobs.execution_time IS 'finished_at - started_at in seconds; NULL while RUNNING.';
COMMENT ON COLUMN jobs.result IS 'Any JSON value the client reported when finishing.';
COMMENT ON COLUMN jobs.error_message IS 'The error the client reported when finishing (usually with FAILED).';
COMMENT ON COLUMN jobs.cpu_usage IS 'CPU usage the client reported, in percent (0 to 100).';
COMMENT ON COLUMN jobs.memory_usage IS 'Memory usage the client reported (>= 0, in the client''s unit, usually MB).';

CREATE TABLE idempotency_keys (
    license_id      uuid        NOT NULL REFERENCES licenses (id),
    key             text        NOT NULL,
    request_hash    bytea       NOT NULL,
    response_status integer     NOT NULL,
    response_body   jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (license_id, key),
    CONSTRAINT idempotency_key_length CHECK (char_length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_request_hash_sha256 CHECK (octet_length(request_hash) = 32),
    CONSTRAINT idempotency_response_success CHECK (response_status BETWEEN 200 AND 299)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

COMMENT ON TABLE idempotency_keys IS 'Idempotency-Key headers of the quota POSTs, stored in the same transaction as the effect they made; replayed for 24 hours.';
COMMENT ON COLUMN idempotency_keys.license_id IS 'Keys are scoped to a license: two tenants may use the same key.';
COMMENT ON COLUMN idempotency_keys.key IS 'The Idempotency-Key header as sent.';
COMMENT ON COLUMN idempotency_keys.request_hash IS 'SHA-256 of the operation and its normalized body; another body with the same key is refused (IDEMPOTENCY_KEY_REUSED).';
COMMENT ON COLUMN idempotency_keys.response_status IS 'The HTTP status of the stored response (only successful effects are stored).';
COMMENT ON COLUMN idempotency_keys.response_body IS 'The JSON body of the stored response, replayed as is.';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the effect was committed; the key is honoured for 24 hours after.';

CREATE TABLE settings (
    id            boolean  PRIMARY KEY DEFAULT true,
    job_retention interval NOT NULL DEFAULT interval '7 days',
    CONSTRAINT settings_single_row CHECK (id),
    CONSTRAINT job_retention_at_least_24h CHECK (job_retention >= interval '24 hours')
);
INSERT INTO settings DEFAULT VALUES;

COMMENT ON TABLE settings IS 'Service-wide settings, one row.';
COMMENT ON COLUMN settings.id IS 'Always true: the table holds exactly one row.';
COMMENT ON COLUMN settings.job_retention IS 'Jobs started longer ago than this are pruned. Never under 24 hours, so pruning never touches the window.';

CREATE VIEW license_window_plain_count AS
SELECT
    l.id AS license_id,
    (SELECT count(*)
     FROM jobs AS j
     WHERE j.license_id = l.id
       AND j.started_at > now() - interval '24 hours') AS used
FROM licenses AS l;
COMMENT ON VIEW license_window_plain_count IS 'The executions of each license in the last 24 hours by a plain COUNT: the reference the fast count (license_usage, JobStart) is tested against. Cost grows with the window.';
COMMENT ON COLUMN license_window_plain_count.license_id IS 'The license.';
COMMENT ON COLUMN license_window_plain_count.used IS 'Jobs started in the 24 hours before now(), counted row by row.';

-- license_usage counts the executions in the window the way JobStart does
-- (queries/jobs.sql): seq grows with started_at (both are assigned under the
-- license lock), so the executions in the 24 hours before now() are the seq
-- range from the first job started after now() - 24h to the newest job. Two
-- index descents, whatever the size of the window. next_slot_at is when the
-- execution numbered newest - max + 1 leaves the window: the moment a start
-- will be admitted again.
CREATE VIEW license_usage AS
WITH counted AS (
    SELECT
        l.id AS license_id,
        l.tenant_id,
        license_effective_status(l.status, l.valid_from, l.valid_to, now()) AS effective_status,
        l.max_apps,
        l.max_executions_per_24h,
        (SELECT count(*)
         FROM applications AS a
         WHERE a.license_id = l.id
           AND a.is_active) AS apps_used,
        COALESCE(
            (SELECT j.seq
             FROM jobs AS j
             WHERE j.license_id = l.id
             ORDER BY j.seq DESC
             LIMIT 1)
          - (SELECT j.seq
             FROM jobs AS j
             WHERE j.license_id = l.id
               AND j.started_at > now() - interval '24 hours'
             ORDER BY j.started_at, j.seq
             LIMIT 1)
          + 1,
            0) AS executions_used,
        COALESCE(
            (SELECT j.seq
             FROM jobs AS j
             WHERE j.license_id = l.id
             ORDER BY j.seq DESC
             LIMIT 1),
            0) AS last_seq
    FROM licenses AS l
)
SELECT
    c.license_id,
    c.tenant_id,
    c.effective_status,
    c.apps_used,
    c.max_apps,
    GREATEST(c.max_apps - c.apps_used, 0)::bigint AS apps_remaining,
    c.executions_used::bigint AS executions_used,
    c.max_executions_per_24h AS max_executions,
    GREATEST(c.max_executions_per_24h - c.executions_used, 0)::bigint AS executions_remaining,
    -- The slot's number is computed apart (OFFSET 0 keeps it a column):
    -- under row-level security only leakproof comparisons become index
    -- bounds, and arithmetic is not leakproof.
    (SELECT j.started_at + interval '24 hours'
     FROM (SELECT c.last_seq - c.max_executions_per_24h + 1 AS seq
           WHERE c.executions_used >= c.max_executions_per_24h
             AND c.max_executions_per_24h > 0
           OFFSET 0) AS slot
     JOIN jobs AS j
       ON j.license_id = c.license_id
      AND j.seq = slot.seq)::timestamptz AS next_slot_at,
    now()::timestamptz AS at
FROM counted AS c;
COMMENT ON VIEW license_usage IS 'Per license: active applications and executions in the sliding 24-hour window against the limits, and when the next start will be admitted.';
COMMENT ON COLUMN license_usage.license_id IS 'The license.';
COMMENT ON COLUMN license_usage.tenant_id IS 'The license''s tenant.';
COMMENT ON COLUMN license_usage.effective_status IS 'ACTIVE, SUSPENDED, REVOKED, NOT_YET_VALID or EXPIRED at now().';
COMMENT ON COLUMN license_usage.apps_used IS 'Active applications.';
COMMENT ON COLUMN license_usage.max_apps IS 'The license''s max_apps.';
COMMENT ON COLUMN license_usage.apps_remaining IS 'Registrations left (0 when at or over the limit after a downgrade).';
COMMENT ON COLUMN license_usage.executions_used IS 'Jobs started in the 24 hours before now().';
COMMENT ON COLUMN license_usage.max_executions IS 'The license''s max_executions_per_24h.';
COMMENT ON COLUMN license_usage.executions_remaining IS 'Starts left in the window now (0 when at or over the limit after a downgrade).';
COMMENT ON COLUMN license_usage.next_slot_at IS 'When a start will next be admitted: NULL while one would be admitted now (or never, with a limit of 0).';
COMMENT ON COLUMN license_usage.at IS 'The instant the figures are for (now()).';

-- licensing_prune_jobs deletes the jobs started longer ago than the retention
-- (never under 24 hours, so never a job inside the window) and the expired
-- idempotency keys. It keeps each license's newest job, so the per-license
-- sequence never restarts. pg_cron (migration 000003) or the server's pruner
-- calls it; running it twice at once is harmless.
CREATE FUNCTION licensing_prune_jobs()
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    retention interval;
    deleted bigint;
BEGIN
    SELECT GREATEST(s.job_retention, interval '24 hours') INTO retention FROM settings AS s;
    retention := COALESCE(retention, interval '7 days');

    -- One index range per license on (license_id, started_at); the newest
    -- job of each license is found through (license_id, seq) and kept.
    WITH pruned AS (
        DELETE FROM jobs AS j
        USING licenses AS l
        WHERE j.license_id = l.id
          AND j.started_at < clock_timestamp() - retention
          AND j.seq < (
              SELECT max(newest.seq)
              FROM jobs AS newest
              WHERE newest.license_id = l.id
          )
        RETURNING 1
    )
    SELECT count(*) INTO deleted FROM pruned;

    DELETE FROM idempotency_keys AS k
    WHERE k.created_at < clock_timestamp() - interval '24 hours';

    RETURN deleted;
END
$$;
COMMENT ON FUNCTION licensing_prune_jobs() IS
    'Deletes jobs started before now - settings.job_retention (never inside the 24-hour window; each license''s newest job is kept) and idempotency keys older than 24 hours. Returns the number of jobs deleted.';
