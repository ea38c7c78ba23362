package licensing

import "time"

// The administrative statuses of a license (licenses.status) and the two
// statuses that follow from its dates (reported as effective_status).
const (
	StatusActive      = "ACTIVE"
	StatusSuspended   = "SUSPENDED"
	StatusRevoked     = "REVOKED"
	StatusExpired     = "EXPIRED"
	StatusNotYetValid = "NOT_YET_VALID"
)

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
