-- name: JobStart :one
-- JobStart decides one job start and, when admitted, records it: one
-- statement, run right after LicenseLockForQuota in the same READ COMMITTED
-- transaction, so it sees every start committed before the lock was ours.
-- The clock is read after the lock and never behind the newest start, so
-- seq and started_at grow together.
-- The license is checked again at that clock: a suspend or expiry wins.
-- The application must be one of the license's active applications.
-- The executions in the window (started_at > at - 24h) are the seq range
-- from the first job in the window to the newest: two index descents, exact.
-- A start is admitted while that count is under max_executions_per_24h (read
-- now, so an upgrade or downgrade applies to this very decision).
-- Refused or not, the row returned says why: effective_status, app_found,
-- used (before this start), max_executions and next_slot_at (when the
-- execution numbered newest - max + 1 leaves the window).
WITH locked_license AS (
    SELECT
        l.id,
        l.status,
        l.valid_from,
        l.valid_to,
        l.max_executions_per_24h
    FROM licenses AS l
    WHERE l.id = @license_id::uuid
    FOR UPDATE
),
newest_job AS (
    SELECT
        j.seq,
        j.started_at
    FROM jobs AS j
    WHERE j.license_id = @license_id::uuid
    ORDER BY j.seq DESC
    LIMIT 1
),
decision_time AS (
    SELECT GREATEST(clock_timestamp(), (SELECT n.started_at FROM newest_job AS n)) AS at
),
first_in_window AS (
    -- The cutoff is a scalar subquery so that it becomes an index bound
    -- (a join with decision_time would filter row by row from the oldest
    -- job kept, growing with the retention).
    SELECT j.seq
    FROM jobs AS j
    WHERE j.license_id = @license_id::uuid
      AND j.started_at > (SELECT d.at FROM decision_time AS d) - interval '24 hours'
    ORDER BY j.started_at, j.seq
    LIMIT 1
),
window_stats AS (
    SELECT
        COALESCE((SELECT n.seq FROM newest_job AS n), 0) AS last_seq,
        COALESCE((SELECT n.seq FROM newest_job AS n) - (SELECT f.seq FROM first_in_window AS f) + 1, 0) AS used
),
target_app AS (
    SELECT a.id
    FROM applications AS a
    WHERE a.id = @application_id::uuid
      AND a.license_id = @license_id::uuid
      AND a.is_active
),
verdict AS (
    SELECT
        license_effective_status(l.status, l.valid_from, l.valid_to, d.at) AS effective_status,
        EXISTS (SELECT 1 FROM target_app) AS app_found,
        w.used,
        w.last_seq,
        l.max_executions_per_24h AS max_executions,
        d.at
    FROM locked_license AS l
    CROSS JOIN decision_time AS d
    CROSS JOIN window_stats AS w
),
admitted AS (
    INSERT INTO jobs (
        license_id,
        application_id,
        seq,
        name,
        description,
        metadata,
        status,
        started_at
    )
    SELECT
        @license_id::uuid,
        @application_id::uuid,
        v.last_seq + 1,
        @name::text,
        sqlc.narg(description)::text,
        @metadata::jsonb,
        'RUNNING',
        v.at
    FROM verdict AS v
    WHERE v.effective_status = 'ACTIVE'
      AND v.app_found
      AND v.used < v.max_executions
    RETURNING *
),
outcome AS (
    SELECT
        v.*,
        EXISTS (SELECT 1 FROM admitted) AS admitted,
        -- The execution whose exit frees the next slot, counting this start.
        v.last_seq + (SELECT count(*) FROM admitted) - v.max_executions + 1 AS slot_seq,
        v.used + (SELECT count(*) FROM admitted) AS used_after
    FROM verdict AS v
),
next_slot AS (
    -- Only when the window is full after this decision (and can ever admit).
    SELECT (COALESCE(
                (SELECT j.started_at FROM jobs AS j WHERE j.license_id = @license_id::uuid AND j.seq = o.slot_seq),
                (SELECT a.started_at FROM admitted AS a WHERE a.seq = o.slot_seq)
            ) + interval '24 hours')::timestamptz AS at
    FROM outcome AS o
    WHERE o.used_after >= o.max_executions
      AND o.max_executions > 0
)
SELECT
    o.effective_status::text AS effective_status,
    o.app_found::boolean AS app_found,
    o.admitted::boolean AS admitted,
    o.used::bigint AS used,
    o.used_after::bigint AS used_after,
    o.max_executions::int AS max_executions,
    o.at::timestamptz AS decided_at,
    s.at AS next_slot_at,
    a.id,
    a.license_id,
    a.application_id,
    a.seq,
    a.name,
    a.description,
    a.metadata,
    a.status,
    a.started_at,
    a.finished_at,
    a.execution_time,
    a.result,
    a.error_message,
    a.cpu_usage,
    a.memory_usage
FROM outcome AS o
LEFT JOIN next_slot AS s ON true
LEFT JOIN admitted AS a ON true;

-- name: JobFinish :one
-- JobFinish finishes a RUNNING job of the license, after
-- LicenseLockSharedForQuota in the same transaction.
-- The license is checked again at the statement's clock: finishing is
-- refused while it is suspended, revoked, expired or not yet valid.
-- finished_at is never before started_at, even if the clock stepped back.
-- finished is false when the job is not the license's or is no longer
-- RUNNING; JobGetForFinish then tells a repeat from a conflict.
WITH license_now AS (
    SELECT license_effective_status(l.status, l.valid_from, l.valid_to, clock_timestamp()) AS effective_status
    FROM licenses AS l
    WHERE l.id = @license_id::uuid
),
finished AS (
    UPDATE jobs AS j
    SET status = @status::text,
        finished_at = GREATEST(clock_timestamp(), j.started_at),
        result = sqlc.narg(result)::jsonb,
        error_message = sqlc.narg(error_message)::text,
        cpu_usage = sqlc.narg(cpu_usage)::double precision,
        memory_usage = sqlc.narg(memory_usage)::double precision
    WHERE j.id = @id::uuid
      AND j.license_id = @license_id::uuid
      AND j.status = 'RUNNING'
      AND (SELECT n.effective_status FROM license_now AS n) = 'ACTIVE'
    RETURNING j.id
)
SELECT
    n.effective_status::text AS effective_status,
    EXISTS (SELECT 1 FROM finished)::boolean AS finished
FROM license_now AS n;

-- name: JobGetForFinish :one
-- JobGetForFinish reads the job after JobFinish, in a statement of its own
-- (so it sees a finish that JobFinish waited for), and says whether it is
-- finished with exactly the outcome asked for: true after JobFinish, or for
-- a repeated finish (answered with the job); false is a conflict.
SELECT
    sqlc.embed(j),
    (j.status = @status::text
        AND j.result IS NOT DISTINCT FROM sqlc.narg(result)::jsonb
        AND j.error_message IS NOT DISTINCT FROM sqlc.narg(error_message)::text
        AND j.cpu_usage IS NOT DISTINCT FROM sqlc.narg(cpu_usage)::double precision
        AND j.memory_usage IS NOT DISTINCT FROM sqlc.narg(memory_usage)::double precision
    )::boolean AS same_outcome
FROM jobs AS j
WHERE j.id = @id::uuid
  AND j.license_id = @license_id::uuid;

-- name: JobGet :one
-- JobGet reads one of the license's jobs.
SELECT *
FROM jobs AS j
WHERE j.id = @id::uuid
  AND j.license_id = @license_id::uuid;

-- name: JobList :many
-- JobList pages through the license's jobs, newest first, by seq (keyset:
-- pass the last seq of a page as before_seq). Filters are optional.
SELECT *
FROM jobs AS j
WHERE j.license_id = @license_id::uuid
  AND (sqlc.narg(status)::text IS NULL OR j.status = sqlc.narg(status)::text)
  AND (sqlc.narg(application_id)::uuid IS NULL OR j.application_id = sqlc.narg(application_id)::uuid)
  AND (sqlc.narg(since)::timestamptz IS NULL OR j.started_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(before_seq)::bigint IS NULL OR j.seq < sqlc.narg(before_seq)::bigint)
ORDER BY j.seq DESC
LIMIT @row_limit::int;

-- name: JobHourlyStarts :many
-- JobHourlyStarts counts a license's job starts in each of the 24 hours
-- before now(), hour 0 the oldest and 23 the one ending now; hours without
-- starts count 0. The hours are counted back from now(), not from the clock
-- hour, so together they are the sliding window license_usage counts. A
-- plain COUNT over the window: for the admin console's chart, never for a
-- quota decision.
WITH window_hours AS (
    SELECT generate_series(0, 23) AS hour
),
started AS (
    SELECT
        LEAST(23, 23 - floor(EXTRACT(EPOCH FROM now() - j.started_at) / 3600)::int) AS hour,
        count(*) AS starts
    FROM jobs AS j
    WHERE j.license_id = @license_id::uuid
      AND j.started_at > now() - interval '24 hours'
    GROUP BY 1
)
SELECT
    w.hour::int AS hour,
    COALESCE(s.starts, 0)::bigint AS starts
FROM window_hours AS w
LEFT JOIN started AS s USING (hour)
ORDER BY w.hour;
