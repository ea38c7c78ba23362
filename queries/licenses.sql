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
