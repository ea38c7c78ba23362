package licensing

import (
	"fmt"
	"time"
)

// The administrative statuses of a license (licenses.status) and the two
// statuses that follow from its dates (reported as effective_status).
const (
	StatusActive      = "ACTIVE"
	StatusSuspended   = "SUSPENDED"
	StatusRevoked     = "REVOKED"
	StatusExpired     = "EXPIRED"
	StatusNotYetValid = "NOT_YET_VALID"
)

// MinInstant and MaxInstant bound every instant the service takes from a
// client: years 1 to 9999 in UTC. RFC 3339 and Go's JSON encoding of
// time.Time cannot write a year outside them (so a stored license could not
// be rendered), and PostgreSQL's timestamptz holds them all.
var (
	MinInstant = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxInstant = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// InstantOutOfRange is the field message for an instant outside
// MinInstant..MaxInstant.
const InstantOutOfRange = "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (in UTC)"

// InstantInRange reports whether t lies within MinInstant..MaxInstant.
func InstantInRange(t time.Time) bool {
	return !t.Before(MinInstant) && !t.After(MaxInstant)
}

// EffectiveStatus returns what a license may do at instant at: the
// administrative status first, then the validity dates. It is the Go twin of
// the SQL function license_effective_status (sql/000001_licenses.up.sql),
// used to render licenses; decisions are taken in SQL. A test holds the two
// to the same answers.
func EffectiveStatus(status string, validFrom, validTo, at time.Time) string {
	switch {
	case status == StatusRevoked, status == StatusSuspended:
		return status
	case at.Before(validFrom):
		return StatusNotYetValid
	case !at.Before(validTo):
		return StatusExpired
	}
	return StatusActive
}

// StatusError is the refusal of an operation by a license with this
// effective status: nil for ACTIVE, else a 403 LICENSE_SUSPENDED,
// LICENSE_REVOKED, LICENSE_EXPIRED or LICENSE_NOT_YET_VALID carrying the
// effective_status member.
func StatusError(effective string) error {
	var code Code
	var msg string
	switch effective {
	case StatusActive:
		return nil
	case StatusSuspended:
		code, msg = CodeLicenseSuspended, "the license is suspended"
	case StatusRevoked:
		code, msg = CodeLicenseRevoked, "the license is revoked"
	case StatusExpired:
		code, msg = CodeLicenseExpired, "the license has expired"
	case StatusNotYetValid:
		code, msg = CodeLicenseNotYetValid, "the license is not valid yet"
	default:
		return Internal(fmt.Errorf("licensing: unknown effective status %q", effective))
	}
	return &Error{Code: code, Message: msg, Extra: map[string]any{"effective_status": effective}}
}
