-- name: AdminKeyCreate :one
-- AdminKeyCreate stores a new admin key by its SHA-256 hash.
-- A taken name violates admin_keys_name_key (names stay taken after revocation,
-- so the audit trail's actors stay unambiguous).
INSERT INTO admin_keys (
    name,
    key_hash
) VALUES (
    @name::text,
    @key_hash::bytea
)
RETURNING *;

-- name: AdminKeyGetActiveByHash :one
-- AdminKeyGetActiveByHash finds the unrevoked key with this hash.
SELECT *
FROM admin_keys
WHERE key_hash = @key_hash::bytea
  AND revoked_at IS NULL;

-- name: AdminKeyList :many
-- AdminKeyList lists every admin key, revoked ones included, by name.
SELECT * FROM admin_keys ORDER BY name;

-- name: AdminKeyRevoke :one
-- AdminKeyRevoke revokes the named key; revoking a revoked key finds no row.
UPDATE admin_keys
SET revoked_at = clock_timestamp()
WHERE name = @name::text
  AND revoked_at IS NULL
RETURNING *;
