package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/pgembed"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminToken = "test-admin-token-0123456789abcdef"
	cfg.DataDir = t.TempDir()
	return cfg
}

func testLogger(t *testing.T) (*slog.Logger, *apitest.SyncBuffer) {
	logs := &apitest.SyncBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	return slog.New(slog.NewJSONHandler(w, nil)), logs
}

// TestShutdownDrainsRequestsInFlight holds a request inside the handler,
// starts Close, checks that the listener is closed while Close waits, then
// lets the request finish: it gets its full answer and Close returns cleanly.
func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	log, logs := testLogger(t)
	m := NewMain(cfg, log)
	started, release := make(chan struct{}), make(chan struct{})
	m.wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/test/slow" {
				close(started)
				<-release
				_, _ = io.WriteString(w, "finished")
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.Addr()
	if r := apitest.Do(t, base, http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	probe := cfg
	probe.Addr = m.Addr()
	if err := healthcheck(context.Background(), probe); err != nil {
		t.Fatalf("healthcheck of a ready server: %v", err)
	}

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/test/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	<-started

	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	// Shutdown closes the listener first; wait until it refuses new
	// connections, which proves the shutdown is under way.
	for {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a request was still in flight", err)
	default:
	}
	close(release)
	if r := <-slow; r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Fatalf("the request in flight got %d %q %v, want 200 finished", r.status, r.body, r.err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Pool.Ping(context.Background()); err == nil {
		t.Fatal("the pool is still open after Close")
	}
	if err := healthcheck(context.Background(), probe); err == nil {
		t.Fatal("healthcheck passed after Close")
	}
	if !strings.Contains(logs.String(), "draining requests in flight") {
		t.Errorf("no shutdown log line:\n%s", logs)
	}
}

// TestShutdownCutsRequestsAfterTheTimeout shows the drain is bounded: a
// request that never finishes is cut off and Close reports it.
func TestShutdownCutsRequestsAfterTheTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.ShutdownTimeout = 50 * time.Millisecond
	log, _ := testLogger(t)
	m := NewMain(cfg, log)
	started, stuck := make(chan struct{}), make(chan struct{})
	defer close(stuck)
	m.wrap = func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-stuck
		})
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := http.Get("http://" + m.Addr() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	if err := m.Close(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the drain deadline", err)
	}
}

func TestNoPostgreSQLBinariesIsExplained(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.PGBinDir = t.TempDir() // holds no initdb
	log, _ := testLogger(t)
	m := NewMain(cfg, log)
	err := m.Run(context.Background())
	if !errors.Is(err, pgembed.ErrNoBinaries) {
		t.Fatalf("Run: %v, want ErrNoBinaries", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close after a failed Run: %v", err)
	}
	msg := explain(err)
	for _, want := range []string{"apt-get install -y postgresql-15", "DATABASE_URL="} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message does not say %q:\n%s", want, msg)
		}
	}
}

// TestPrivateClusterSurvivesRestartsAndCrashes runs the server on its
// private cluster three times over one data directory: a clean stop, then a
// "crash" that leaves PostgreSQL running (as kill -9 of licensingd does).
// Each run finds the data of the one before.
func TestPrivateClusterSurvivesRestartsAndCrashes(t *testing.T) {
	if pgtest.Cluster() == nil {
		t.Skip("needs local PostgreSQL binaries (TEST_DATABASE_URL is set)")
	}
	t.Parallel()
	cfg := testConfig(t)
	// The cluster runs as the postgres OS user when root, who must be able
	// to traverse the data directory's parents.
	if err := os.Chmod(filepath.Dir(cfg.DataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	ctx := context.Background()

	start := func() *Main {
		t.Helper()
		m := NewMain(cfg, log)
		if err := m.Run(ctx); err != nil {
			m.Close()
			t.Fatalf("Run: %v\n%s", err, logs)
		}
		if r := apitest.Do(t, "http://"+m.Addr(), http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
		return m
	}
	m := start()
	// The service role changes rows, not the schema: the marker is a row.
	if err := addLicense(ctx, m, "survives-1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = start()
	count := func(m *Main) int {
		var n int
		if err := m.Pool.QueryRow(ctx, "SELECT count(*) FROM licenses WHERE tenant_id LIKE 'survives-%'").Scan(&n); err != nil {
			t.Fatalf("the data of the run before is gone: %v", err)
		}
		return n
	}
	if n := count(m); n != 1 {
		t.Fatalf("rows %d, want 1", n)
	}
	// Commands run beside the server (a second serve, migrate, admin) are
	// refused and leave its private cluster alone.
	second := NewMain(cfg, log)
	if err := second.Run(ctx); !errors.Is(err, pgembed.ErrInUse) {
		t.Errorf("a second serve beside the running one: %v, want ErrInUse", err)
	}
	second.Close()
	if err := migrateCmd(ctx, cfg, log, []string{"version"}); !errors.Is(err, pgembed.ErrInUse) ||
		!strings.Contains(err.Error(), "stop it, or set DATABASE_URL") {
		t.Errorf("migrate beside the running server: %v, want ErrInUse", err)
	}
	if err := adminCmd(ctx, cfg, log, []string{"list-keys"}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "in use by a running licensingd") {
		t.Errorf("admin beside the running server: %v", err)
	}
	if r := apitest.Do(t, "http://"+m.Addr(), http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz after the refused commands: %d %s", r.Status, r.Body)
	}
	if n := count(m); n != 1 {
		t.Fatalf("rows %d after the refused commands, want 1", n)
	}

	// A crash: the HTTP server and pool go away, the cluster keeps running
	// and the dead process's lock on it is gone.
	if err := addLicense(ctx, m, "survives-2"); err != nil {
		t.Fatal(err)
	}
	m.server.Close()
	m.Pool.Close()
	m.cluster.Abandon()

	m = start()
	defer m.Close()
	if n := count(m); n != 2 {
		t.Fatalf("rows %d after the crash, want 2", n)
	}
	if !strings.Contains(logs.String(), "still up; restarting it") {
		t.Errorf("the left-over cluster was not noticed:\n%s", logs)
	}
}

// TestUnreachableDataDirFallsBackToTemp runs as root only: the postgres OS
// user cannot enter a 0700 directory, so the cluster moves under the temp
// directory with a warning, and a second run finds it there again.
func TestUnreachableDataDirFallsBackToTemp(t *testing.T) {
	if os.Geteuid() != 0 || pgtest.Cluster() == nil {
		t.Skip("needs root and local PostgreSQL binaries")
	}
	t.Parallel()
	cfg := testConfig(t) // t.TempDir() is 0700: closed to the postgres user
	log, logs := testLogger(t)
	ctx := context.Background()
	fallback := fallbackDataDir(filepath.Join(cfg.DataDir, "postgres"))
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(fallback)) })
	for run := range 2 {
		m := NewMain(cfg, log)
		if err := m.Run(ctx); err != nil {
			m.Close()
			t.Fatalf("run %d: %v\n%s", run, err, logs)
		}
		if run == 0 {
			if err := addLicense(ctx, m, "in-fallback"); err != nil {
				t.Fatal(err)
			}
		} else if err := m.Pool.QueryRow(ctx, "SELECT tenant_id FROM licenses WHERE tenant_id = 'in-fallback'").Scan(new(string)); err != nil {
			t.Fatalf("run 2 did not find run 1's data: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(logs.String(), "cannot reach the data directory") || !strings.Contains(logs.String(), fallback) {
		t.Errorf("no warning naming the fallback %s:\n%s", fallback, logs)
	}
	if _, err := os.Stat(filepath.Join(fallback, "PG_VERSION")); err != nil {
		t.Errorf("no cluster at the fallback: %v", err)
	}
}

// addLicense stores a license row for tenant through the server's pool, as a
// marker that a later run must find.
func addLicense(ctx context.Context, m *Main, tenant string) error {
	_, err := m.Pool.Exec(ctx, `INSERT INTO licenses (tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
		VALUES ($1, $1, 1, 1, now(), now() + interval '1 day')`, tenant)
	return err
}
