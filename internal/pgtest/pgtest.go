// Package pgtest gives tests real PostgreSQL databases: one private cluster
// per test process (or the server at TEST_DATABASE_URL), a migrated template
// database built once, and a fresh database per test that needs one, made
// with CREATE DATABASE ... TEMPLATE in tens of milliseconds.
//
// A package opts in with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
	schema "github.com/licensing-service/licensing/sql"
)

var (
	mu       sync.Mutex
	baseURL  string           // a URL of the server, database part replaced per use
	cluster  *pgembed.Cluster // nil when TEST_DATABASE_URL is used
	template string           // name of the migrated template database
	failed   bool
)

// Main starts the test process's PostgreSQL, runs the tests, and stops it.
// A run with a failing test keeps the cluster's data directory and says where.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	if fuzzWorker() && os.Getenv("TEST_DATABASE_URL") == "" {
		// A `go test -fuzz` worker whose coordinator has no cluster (see
		// below) runs a fuzz target that needs no database.
		return m.Run()
	}
	var dataDir string
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		baseURL = u
	} else {
		parent, err := os.MkdirTemp("", "pgtest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 2
		}
		_ = os.Chmod(parent, 0o755)
		dataDir = parent + "/postgres"
		cluster, err = pgembed.Start(ctx, pgembed.Config{
			DataDir:      dataDir,
			CronDatabase: CronDatabase,
			Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Settings: map[string]string{
				// Throwaway data: trade durability for speed in tests only.
				"fsync":              "off",
				"synchronous_commit": "off",
				"full_page_writes":   "off",
			},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			os.RemoveAll(parent)
			return 2
		}
		baseURL = cluster.URL("postgres")
		if fuzzing() {
			// `go test -fuzz` workers are processes started with this
			// environment: they share this cluster instead of each
			// starting their own.
			os.Setenv("TEST_DATABASE_URL", baseURL)
		}
	}
	if err := buildTemplate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		stop(ctx, dataDir, true)
		return 2
	}
	code := m.Run()
	stop(ctx, dataDir, code != 0 || failed)
	return code
}

// fuzzWorker reports whether this process is a worker of `go test -fuzz`.
func fuzzWorker() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

// fuzzing reports whether this process coordinates `go test -fuzz`.
func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz=") && a != "-test.fuzz=" {
			return true
		}
	}
	return false
}

func stop(ctx context.Context, dataDir string, keep bool) {
	if cluster == nil {
		return
	}
	_ = cluster.Stop(ctx)
	if keep {
		fmt.Fprintf(os.Stderr, "pgtest: kept the test cluster at %s (start it with pg_ctl -D %s start)\n", dataDir, dataDir)
		return
	}
	os.RemoveAll(strings.TrimSuffix(dataDir, "/postgres"))
}

// CronDatabase is the database that pg_cron serves in the test cluster; a
// test that checks the pg_cron schedule migrates it with CronURL.
const CronDatabase = "licensing_cron"

// Cluster is the test process's private cluster, or nil when the tests run
// against TEST_DATABASE_URL. Fault tests (restarts) need it.
func Cluster() *pgembed.Cluster { return cluster }

// URL is a connection URL for database name on the test server.
func URL(name string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// migrationsHash names the template after the migrations, so a changed
// schema gets a new template on a shared server.
func migrationsHash() string {
	h := sha256.New()
	names, _ := fs.Glob(schema.Migrations, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(schema.Migrations, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func buildTemplate(ctx context.Context) error {
	template = "tpl_" + migrationsHash()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	// Processes sharing one server build the template once.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7316001)"); err != nil {
		return err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7316001)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", template).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := template + "_building"
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return err
	}
	if err := migrations.Up(URL(building)); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+template); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ALTER DATABASE "+template+" WITH IS_TEMPLATE true")
	return err
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func createDatabase(t testing.TB, from string) string {
	t.Helper()
	if baseURL == "" {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	ctx := context.Background()
	name := randomName("t_")
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	stmt := "CREATE DATABASE " + name
	if from != "" {
		stmt += " TEMPLATE " + from
	}
	// A template in use by a concurrent CREATE DATABASE is briefly busy.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, stmt)
		if err == nil || i == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: %s: %v", stmt, err)
	}
	dbURL := URL(name)
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			failed = true
			mu.Unlock()
			t.Logf("pgtest: kept database %s: %s", name, dbURL)
			return
		}
		c, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return dbURL
}

// NewDatabase creates a fresh, fully migrated database for this test and
// returns its URL. It is dropped after a passing test and kept after a
// failing one.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, template)
}

// NewEmptyDatabase creates a database with no schema (for migration tests).
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// NewPool creates a fresh migrated database and a pool on it, closed after
// the test.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDatabase(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
