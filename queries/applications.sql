-- name: ApplicationRegister :one
-- ApplicationRegister decides one registration and, when admitted, records
-- it: one statement, run right after LicenseLockForQuota in the same READ
-- COMMITTED transaction, so it sees every registration and deletion committed
-- before the lock was ours.
-- The license is checked again at the clock read after the lock.
-- A name already used by one of the license's active applications is refused.
-- Active applications must stay under max_apps (read now: an upgrade or
-- downgrade applies to this very decision).
-- Refused or not, the row returned says why.
WITH locked_license AS (
    SELECT
        l.id,
        l.status,
        l.valid_from,
        l.valid_to,
        l.max_apps
    FROM licenses AS l
    WHERE l.id = @license_id::uuid
    FOR UPDATE
),
decision_time AS (
    SELECT clock_timestamp() AS at
),
active_apps AS (
    SELECT
        count(*) AS used,
        COALESCE(bool_or(a.name = @name::text), false) AS name_taken
    FROM applications AS a
    WHERE a.license_id = @license_id::uuid
      AND a.is_active
),
verdict AS (
    SELECT
        license_effective_status(l.status, l.valid_from, l.valid_to, d.at) AS effective_status,
        c.name_taken,
        c.used,
        l.max_apps,
        d.at
    FROM locked_license AS l
    CROSS JOIN decision_time AS d
    CROSS JOIN active_apps AS c
),
admitted AS (
    INSERT INTO applications (
        license_id,
        name,
        description,
        version,
        metadata,
        created_at
    )
    SELECT
        @license_id::uuid,
        @name::text,
        sqlc.narg(description)::text,
        sqlc.narg(version)::text,
        @metadata::jsonb,
        v.at
    FROM verdict AS v
    WHERE v.effective_status = 'ACTIVE'
      AND NOT v.name_taken
      AND v.used < v.max_apps
    RETURNING *
)
SELECT
    v.effective_status::text AS effective_status,
    v.name_taken::boolean AS name_taken,
    v.used::bigint AS used,
    v.max_apps::int AS max_apps,
    a.id,
    a.license_id,
    a.name,
    a.description,
    a.version,
    a.metadata,
    a.is_active,
    a.created_at,
    a.deleted_at
FROM verdict AS v
LEFT JOIN admitted AS a ON true;

-- name: ApplicationDelete :one
-- ApplicationDelete unregisters one of the license's active applications,
-- after LicenseLockForQuota in the same transaction: it stops counting
-- against max_apps at once; its jobs stay. The license is checked again at
-- the statement's clock. found says whether the application is the license's
-- at all (deleting a deleted application changes nothing and is not an error).
WITH license_now AS (
    SELECT license_effective_status(l.status, l.valid_from, l.valid_to, clock_timestamp()) AS effective_status
    FROM licenses AS l
    WHERE l.id = @license_id::uuid
),
deleted AS (
    UPDATE applications AS a
    SET is_active = false,
        deleted_at = clock_timestamp()
    WHERE a.id = @id::uuid
      AND a.license_id = @license_id::uuid
      AND a.is_active
      AND (SELECT n.effective_status FROM license_now AS n) = 'ACTIVE'
    RETURNING a.id
)
SELECT
    n.effective_status::text AS effective_status,
    EXISTS (
        SELECT 1
        FROM applications AS a
        WHERE a.id = @id::uuid
          AND a.license_id = @license_id::uuid
    )::boolean AS found,
    EXISTS (SELECT 1 FROM deleted)::boolean AS deleted
FROM license_now AS n;

-- name: ApplicationGet :one
-- ApplicationGet reads one of the license's applications, deleted or not.
SELECT *
FROM applications AS a
WHERE a.id = @id::uuid
  AND a.license_id = @license_id::uuid;

-- name: ApplicationList :many
-- ApplicationList pages through the license's applications, oldest first
-- (keyset on created_at, id); deleted ones only when asked for.
SELECT *
FROM applications AS a
WHERE a.license_id = @license_id::uuid
  AND (a.is_active OR @include_deleted::boolean)
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (a.created_at, a.id) > (sqlc.narg(after_created_at)::timestamptz, @after_id::uuid))
ORDER BY a.created_at, a.id
LIMIT @row_limit::int;
