-- name: LicenseGet :one
-- LicenseGet reads one license by id.
SELECT * FROM licenses WHERE id = @id::uuid;
