-- name: LicenseEventInsert :one
-- LicenseEventInsert appends one audit row. It runs in the transaction of the
-- change it records, so the trail never misses a committed change and never
-- holds a rolled-back one.
INSERT INTO license_events (
    license_id,
    actor,
    action,
    before,
    after,
    reason
) VALUES (
    @license_id::uuid,
    @actor::text,
    @action::text,
    sqlc.narg(before)::jsonb,
    sqlc.narg(after)::jsonb,
    sqlc.narg(reason)::text
)
RETURNING *;

-- name: LicenseEventList :many
-- LicenseEventList pages through a license's audit trail, oldest first
-- (keyset pagination on the event id: rows after @after_id).
SELECT *
FROM license_events
WHERE license_id = @license_id::uuid
  AND id > @after_id::bigint
ORDER BY id
LIMIT @row_limit::int;
