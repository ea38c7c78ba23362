package migrations_test

import (
	"testing"

	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRoundTrip applies every migration, reverts them all, and applies them
// again: every down undoes its up.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDatabase(t)
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []string{"up", "down", "up"} {
		var err error
		if step == "up" {
			err = migrations.Up(url)
		} else {
			err = migrations.Down(url, 0)
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, step, err)
		}
		v, dirty, err := migrations.Version(url)
		if err != nil {
			t.Fatal(err)
		}
		want := latest
		if step == "down" {
			want = 0
		}
		if v != want || dirty {
			t.Fatalf("after %s: version %d dirty %v, want %d clean", step, v, dirty, want)
		}
	}
}
