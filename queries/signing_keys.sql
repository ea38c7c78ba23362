-- name: SigningKeyLock :exec
-- SigningKeyLock serialises key creation across replicas for the rest of the
-- transaction, so that two replicas needing the first key make only one.
SELECT pg_advisory_xact_lock(hashtextextended('licensing.signing_keys', 0));

-- name: SigningKeyCurrent :one
-- SigningKeyCurrent returns the key that signs new tokens: the newest key
-- that is not retired. It is the only query that reads a private key.
SELECT
    kid,
    private_key,
    created_at
FROM signing_keys
WHERE retired_at IS NULL
ORDER BY created_at DESC, kid DESC
LIMIT 1;

-- name: SigningKeyCreate :one
-- SigningKeyCreate stores a new Ed25519 key; being the newest, it signs from
-- now on, while older unretired keys keep verifying.
INSERT INTO signing_keys (
    kid,
    public_key,
    private_key
) VALUES (
    @kid::text,
    @public_key::bytea,
    @private_key::bytea
)
RETURNING
    kid,
    created_at;

-- name: SigningKeyListVerifying :many
-- SigningKeyListVerifying returns the public half of every key that verifies
-- tokens: every key not retired, newest first.
SELECT
    kid,
    public_key,
    created_at
FROM signing_keys
WHERE retired_at IS NULL
ORDER BY created_at DESC, kid DESC;

-- name: SigningKeyList :many
-- SigningKeyList returns every key, retired or not, newest first, without
-- key material (for operators).
SELECT
    kid,
    algorithm,
    created_at,
    retired_at
FROM signing_keys
ORDER BY created_at DESC, kid DESC;

-- name: SigningKeyRetire :one
-- SigningKeyRetire stops a key from signing and verifying. Retiring a key
-- twice keeps its first retirement time.
UPDATE signing_keys
SET retired_at = COALESCE(retired_at, clock_timestamp())
WHERE kid = @kid::text
RETURNING
    kid,
    created_at,
    retired_at;
