package quota_test

import (
	"context"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/pgtest"
)

// TestPgTAP runs the pgTAP tests of the SQL functions, views and
// constraints (testdata/pgtap/*.sql) with pg_prove on a fresh database.
func TestPgTAP(t *testing.T) {
	t.Parallel()
	prove, err := exec.LookPath("pg_prove")
	if err != nil {
		t.Skip("pg_prove is not installed: `make deps` installs it (apt: libtap-parser-sourcehandler-pgtap-perl postgresql-15-pgtap)")
	}
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pgtap")
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("CREATE EXTENSION pgtap: %v (install postgresql-15-pgtap: `make deps`)", err)
	}
	files, err := filepath.Glob("testdata/pgtap/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pgTAP tests found: %v", err)
	}
	// pg_prove hands its connection options to psql one by one; the URL's
	// parts go through the libpq environment instead.
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	cmd := exec.CommandContext(ctx, prove, append([]string{"--verbose", "--failures"}, files...)...)
	cmd.Env = append(os.Environ(),
		"PGHOST="+u.Hostname(),
		"PGPORT="+u.Port(),
		"PGUSER="+u.User.Username(),
		"PGPASSWORD="+pass,
		"PGDATABASE="+strings.TrimPrefix(u.Path, "/"),
		"PGSSLMODE=disable",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pg_prove: %v\n%s", err, out)
	}
	t.Logf("pg_prove:\n%s", out)
}
