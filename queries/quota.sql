-- name: LicenseLockForQuota :one
-- LicenseLockForQuota takes the license row lock that serializes every
-- decision of one license (registrations, starts, deletions). It is a
-- statement of its own on purpose: under READ COMMITTED each statement sees
-- the rows committed before it began, so the decision that follows (a new
-- statement, begun after the lock was granted) sees every job and application
-- committed by the transactions that held the lock before. A lock taken inside
-- the deciding statement would leave its snapshot from before the wait.
-- The row itself is the newest version (a suspend that committed while we
-- waited is seen); effective_status here is only used to refuse early and to
-- guard replays: the decision checks it again at its own clock.
SELECT
    l.id,
    l.tenant_id,
    l.max_apps,
    l.max_executions_per_24h,
    license_effective_status(l.status, l.valid_from, l.valid_to, clock_timestamp())::text AS effective_status
FROM licenses AS l
WHERE l.id = @id::uuid
FOR UPDATE;

-- name: LicenseLockSharedForQuota :one
-- LicenseLockSharedForQuota locks the license row in share mode for finishing
-- jobs: finishes of one license run in parallel, but a suspend, revoke or
-- downgrade (an UPDATE of the row) waits for them or they for it, so a
-- suspend that commits first is seen and refuses the finish.
SELECT
    l.id,
    l.tenant_id,
    license_effective_status(l.status, l.valid_from, l.valid_to, clock_timestamp())::text AS effective_status
FROM licenses AS l
WHERE l.id = @id::uuid
FOR SHARE;

-- name: LicenseUsageGet :one
-- LicenseUsageGet reports a license's usage against its limits (the
-- license_usage view: apps, executions in the sliding window, next slot).
SELECT * FROM license_usage WHERE license_id = @license_id::uuid;

-- name: LicenseUsageList :many
-- LicenseUsageList reports the usage of several licenses at once (the
-- license_usage view), for the admin console's list page.
SELECT * FROM license_usage WHERE license_id = ANY(@license_ids::uuid[]);

-- name: LicenseWindowPlainCountGet :one
-- LicenseWindowPlainCountGet counts a license's executions in the window row
-- by row: the reference the fast count is tested against.
SELECT used FROM license_window_plain_count WHERE license_id = @license_id::uuid;

-- name: JobsPrune :one
-- JobsPrune deletes jobs older than the retention (never inside the window)
-- and expired idempotency keys; it returns the number of jobs deleted.
SELECT licensing_prune_jobs()::bigint AS deleted;

-- name: JobsPruneTryLock :one
-- JobsPruneTryLock takes, for the rest of the transaction, the advisory lock
-- that keeps replicas from pruning at the same moment; false when another
-- session holds it.
SELECT pg_try_advisory_xact_lock(hashtext('licensing-prune-jobs'))::boolean AS locked;
