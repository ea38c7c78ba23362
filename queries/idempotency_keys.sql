-- name: IdempotencyKeyGet :one
-- IdempotencyKeyGet finds a license's stored response for key, if it was
-- stored in the last 24 hours. Run it under the license lock: two requests
-- with the same key then cannot both miss it.
SELECT
    k.request_hash,
    k.response_status,
    k.response_body,
    k.created_at
FROM idempotency_keys AS k
WHERE k.license_id = @license_id::uuid
  AND k.key = @key::text
  AND k.created_at > clock_timestamp() - interval '24 hours';

-- name: IdempotencyKeyStore :exec
-- IdempotencyKeyStore records the response of an effect, in the effect's own
-- transaction. An expired entry of the same key is replaced.
INSERT INTO idempotency_keys (
    license_id,
    key,
    request_hash,
    response_status,
    response_body
) VALUES (
    @license_id::uuid,
    @key::text,
    @request_hash::bytea,
    @response_status::int,
    @response_body::jsonb
)
ON CONFLICT (license_id, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash,
    response_status = EXCLUDED.response_status,
    response_body = EXCLUDED.response_body,
    created_at = clock_timestamp()
WHERE idempotency_keys.created_at <= clock_timestamp() - interval '24 hours';
