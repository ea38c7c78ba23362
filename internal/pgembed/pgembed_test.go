package pgembed_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/pgembed"
)

// dataDir returns a data directory the postgres OS user can reach (as root
// the cluster runs as that user, and t.TempDir() is mode 0700).
func dataDir(t *testing.T) string {
	t.Helper()
	parent := t.TempDir() // <tmp>/TestName123/001, both 0700
	for _, d := range []string{parent, filepath.Dir(parent)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(parent, "postgres")
}

func start(t *testing.T, cfg pgembed.Config) *pgembed.Cluster {
	t.Helper()
	cl, err := pgembed.Start(context.Background(), cfg)
	if errors.Is(err, pgembed.ErrNoBinaries) {
		t.Skip("no PostgreSQL binaries on this machine")
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return cl
}

func connect(t *testing.T, cl *pgembed.Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), cl.URL("postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func rows(t *testing.T, cl *pgembed.Cluster) int {
	t.Helper()
	var n int
	if err := connect(t, cl).QueryRow(context.Background(), "SELECT count(*) FROM kept").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// TestLifecycle creates a cluster, restarts it fast and immediately, stops
// it, starts it again from the same directory, and then starts it over a
// copy of itself left running by a "crashed" process. The data and the
// password survive every step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer // Start logs from the calling goroutine only
	cfg := pgembed.Config{
		DataDir:      dataDir(t),
		CronDatabase: "cron_here",
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	}
	cl := start(t, cfg)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cl.Stop(ctx)
		}
	})
	if _, err := connect(t, cl).Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	// pg_cron is preloaded exactly when its library is installed.
	conn := connect(t, cl)
	var preload, cronDB string
	if err := conn.QueryRow(ctx, "SELECT current_setting('shared_preload_libraries')").Scan(&preload); err != nil {
		t.Fatal(err)
	}
	if got := strings.Contains(preload, "pg_cron"); got != cl.HasCron() {
		t.Errorf("shared_preload_libraries = %q, HasCron() = %v", preload, cl.HasCron())
	}
	if cl.HasCron() {
		if err := conn.QueryRow(ctx, "SELECT current_setting('cron.database_name')").Scan(&cronDB); err != nil || cronDB != "cron_here" {
			t.Errorf("cron.database_name = %q (%v), want cron_here", cronDB, err)
		}
	}
	// Only loopback: the cluster is private.
	var listen string
	if err := conn.QueryRow(ctx, "SELECT current_setting('listen_addresses')").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q (%v)", listen, err)
	}

	for _, mode := range []string{"fast", "immediate"} {
		if err := cl.Restart(ctx, mode); err != nil {
			t.Fatalf("restart %s: %v", mode, err)
		}
		if n := rows(t, cl); n != 1 {
			t.Fatalf("after a %s restart: %d rows, want 1", mode, n)
		}
	}

	url := cl.URL("postgres")
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if c, err := pgx.Connect(ctx, url); err == nil {
		c.Close(ctx)
		t.Fatal("the cluster still answers after Stop")
	}

	// Reuse: the same directory, a new process's view of it.
	cl = start(t, cfg)
	stopped = false
	if n := rows(t, cl); n != 1 {
		t.Fatalf("after Stop and Start: %d rows, want 1", n)
	}
	if _, err := connect(t, cl).Exec(ctx, "INSERT INTO kept VALUES (2)"); err != nil {
		t.Fatal(err)
	}

	// While the owner lives, a second Start (another licensingd, or a
	// `licensingd migrate`) is refused at once and leaves the cluster alone.
	url = cl.URL("postgres")
	logs.Reset()
	second, err := pgembed.Start(ctx, cfg)
	if !errors.Is(err, pgembed.ErrInUse) {
		if second != nil {
			_ = second.Stop(ctx)
		}
		t.Fatalf("a second Start while the owner lives: %v, want ErrInUse", err)
	}
	if want := "another licensingd is using " + cfg.DataDir + "; stop it, or set DATABASE_URL"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if strings.Contains(logs.String(), "restarting") {
		t.Errorf("the refused Start touched the running cluster:\n%s", logs.String())
	}
	if c, err := pgx.Connect(ctx, url); err != nil {
		t.Fatalf("the owner's cluster no longer answers at its URL after a refused Start: %v", err)
	} else {
		c.Close(ctx)
	}

	// A crash of the owning process leaves the cluster running with nobody
	// holding the lock; the next Start stops it and starts it with its own
	// settings.
	cl.Abandon()
	cfg.Port = 0
	cl = start(t, cfg)
	if n := rows(t, cl); n != 2 {
		t.Fatalf("after taking over a running cluster: %d rows, want 2", n)
	}
	if !strings.Contains(logs.String(), "still up; restarting it") {
		t.Errorf("the left-over cluster was not reported:\n%s", logs.String())
	}
}

func TestNoBinaries(t *testing.T) {
	t.Parallel()
	_, err := pgembed.Start(context.Background(), pgembed.Config{DataDir: dataDir(t), BinDir: t.TempDir()})
	if !errors.Is(err, pgembed.ErrNoBinaries) {
		t.Fatalf("Start with no initdb: %v, want ErrNoBinaries", err)
	}
	if !strings.Contains(pgembed.ErrNoBinaries.Error(), "apt-get install -y postgresql-15") ||
		!strings.Contains(pgembed.ErrNoBinaries.Error(), "DATABASE_URL") {
		t.Errorf("ErrNoBinaries does not say what to do: %v", pgembed.ErrNoBinaries)
	}
}

func TestDataDirUnreachableByPostgresUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres OS user")
	}
	t.Parallel()
	closed := filepath.Join(t.TempDir(), "postgres") // the parent is 0700
	_, err := pgembed.Start(context.Background(), pgembed.Config{DataDir: closed})
	if errors.Is(err, pgembed.ErrNoBinaries) {
		t.Skip("no PostgreSQL binaries on this machine")
	}
	if !errors.Is(err, pgembed.ErrDataDirUnreachable) || !strings.Contains(err.Error(), "chmod o+x") {
		t.Fatalf("Start: %v, want ErrDataDirUnreachable with advice", err)
	}
}

func TestDataDirRequired(t *testing.T) {
	t.Parallel()
	if _, err := pgembed.Start(context.Background(), pgembed.Config{}); err == nil {
		t.Fatal("Start with no DataDir succeeded")
	}
}
