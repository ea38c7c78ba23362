// Package sql holds the one schema of the service: golang-migrate migrations,
// embedded in the binary. sqlc reads the same files (it skips *.down.sql).
package sql

import "embed"

// Migrations holds every NNNNNN_name.up.sql / .down.sql file of this folder.
//
//go:embed *.sql
var Migrations embed.FS
