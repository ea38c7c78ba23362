package licensing_test

import (
	"context"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestEffectiveStatusMatchesSQL holds the Go twin to the SQL function
// license_effective_status, boundaries included.
func TestEffectiveStatusMatchesSQL(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ats := []time.Time{from.Add(-time.Microsecond), from, from.Add(time.Hour), to.Add(-time.Microsecond), to, to.Add(time.Hour)}
	for _, status := range []string{licensing.StatusActive, licensing.StatusSuspended, licensing.StatusRevoked} {
		for _, at := range ats {
			var want string
			if err := pool.QueryRow(context.Background(), "SELECT license_effective_status($1, $2, $3, $4)", status, from, to, at).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if got := licensing.EffectiveStatus(status, from, to, at); got != want {
				t.Errorf("%s at %s: Go %s, SQL %s", status, at.Format(time.RFC3339Nano), got, want)
			}
		}
	}
}
