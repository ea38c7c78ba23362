-- name: AuthFailureBlockedFor :one
-- AuthFailureBlockedFor returns how many seconds the client stays refused:
-- it has max_failures or more failures in a window that has not ended yet.
-- No row means the client may try.
SELECT
    CEIL(EXTRACT(EPOCH FROM (f.window_start + make_interval(secs => @window_seconds::float8) - clock_timestamp())))::bigint AS retry_after_seconds
FROM auth_failures AS f
WHERE f.scope = @scope::text
  AND f.client = @client::text
  AND f.failures >= @max_failures::int
  AND f.window_start + make_interval(secs => @window_seconds::float8) > clock_timestamp();

-- name: AuthFailureRecord :one
-- AuthFailureRecord counts one failed attempt of the client: the first
-- failure after a window ended starts a new window at 1.
INSERT INTO auth_failures AS f (
    scope,
    client,
    window_start,
    failures
) VALUES (
    @scope::text,
    @client::text,
    clock_timestamp(),
    1
)
ON CONFLICT (scope, client) DO UPDATE
SET window_start = CASE
        WHEN f.window_start + make_interval(secs => @window_seconds::float8) <= clock_timestamp() THEN clock_timestamp()
        ELSE f.window_start
    END,
    failures = CASE
        WHEN f.window_start + make_interval(secs => @window_seconds::float8) <= clock_timestamp() THEN 1
        ELSE f.failures + 1
    END
RETURNING f.failures;

-- name: AuthFailurePrune :execrows
-- AuthFailurePrune forgets the windows that ended, so the table holds only
-- the clients that failed recently.
DELETE FROM auth_failures AS f
WHERE f.window_start < clock_timestamp() - make_interval(secs => @window_seconds::float8);
