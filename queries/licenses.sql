-- name: LicenseGet :one
-- LicenseGet reads one license by id.
SELECT * FROM licenses WHERE id = @id::uuid;

-- name: LicenseGetWithEffectiveStatus :one
-- LicenseGetWithEffectiveStatus reads one license by id together with what it
-- may do right now, as license_effective_status defines it (the one
-- definition), evaluated at the statement's clock.
SELECT
    sqlc.embed(licenses),
    license_effective_status(licenses.status, licenses.valid_from, licenses.valid_to, clock_timestamp())::text AS effective_status
FROM licenses
WHERE licenses.id = @id::uuid;
-- name: LicenseGetForUpdate :one
-- LicenseGetForUpdate reads one license by id and locks its row until the
-- end of the transaction: every admin change starts here, so concurrent
-- changes of one license happen one after the other and each audit row's
-- "before" is the state the change really replaced.
SELECT * FROM licenses WHERE id = @id::uuid FOR UPDATE;

-- name: LicenseGetByTenant :one
-- LicenseGetByTenant reads the license of a tenant.
SELECT * FROM licenses WHERE tenant_id = @tenant_id::text;

-- name: LicenseCreate :one
-- LicenseCreate inserts a license.
-- A taken tenant_id violates licenses_tenant_id_key (409 TENANT_ID_TAKEN).
-- Limits, dates and status are checked by the table's named constraints too.
INSERT INTO licenses (
    tenant_id,
    tenant_name,
    max_apps,
    max_executions_per_24h,
    valid_from,
    valid_to,
    status
) VALUES (
    @tenant_id::text,
    @tenant_name::text,
    @max_apps::int,
    @max_executions_per_24h::int,
    @valid_from::timestamptz,
    @valid_to::timestamptz,
    @status::text
)
RETURNING *;

-- name: LicenseList :many
-- LicenseList pages through licenses in tenant_id order (keyset pagination on
-- the unique tenant_id index: rows after @after_tenant_id, stable under inserts).
-- Every filter is optional: NULL means "any".
-- effective_status is computed at the statement's clock by license_effective_status.
-- search matches a substring of tenant_id or tenant_name, case-insensitively.
SELECT *
FROM licenses
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(tenant_id)::text IS NULL OR tenant_id = sqlc.narg(tenant_id)::text)
  AND (sqlc.narg(effective_status)::text IS NULL
       OR license_effective_status(status, valid_from, valid_to, clock_timestamp()) = sqlc.narg(effective_status)::text)
  AND (sqlc.narg(search)::text IS NULL
       OR strpos(lower(tenant_id), lower(sqlc.narg(search)::text)) > 0
       OR strpos(lower(tenant_name), lower(sqlc.narg(search)::text)) > 0)
  AND (sqlc.narg(after_tenant_id)::text IS NULL OR tenant_id > sqlc.narg(after_tenant_id)::text)
ORDER BY tenant_id
LIMIT @row_limit::int;

-- name: LicenseUpdate :one
-- LicenseUpdate sets the changeable fields of a license (the caller holds the
-- row lock from LicenseGetForUpdate and passes every field, changed or not).
UPDATE licenses
SET tenant_name            = @tenant_name::text,
    max_apps               = @max_apps::int,
    max_executions_per_24h = @max_executions_per_24h::int,
    valid_from             = @valid_from::timestamptz,
    valid_to               = @valid_to::timestamptz,
    updated_at             = clock_timestamp()
WHERE id = @id::uuid
RETURNING *;

-- name: LicenseSetStatus :one
-- LicenseSetStatus moves a license to another administrative status. Which
-- transitions are allowed is decided by the caller, under the row lock.
UPDATE licenses
SET status     = @status::text,
    updated_at = clock_timestamp()
WHERE id = @id::uuid
RETURNING *;

-- name: LicenseBumpTokenVersion :one
-- LicenseBumpTokenVersion raises the token version, so every token issued
-- before stops verifying (revoke_previous).
UPDATE licenses
SET token_version = token_version + 1,
    updated_at    = clock_timestamp()
WHERE id = @id::uuid
RETURNING *;
