// Package bench measures the service against the physical limit of its
// database on the same machine, in one run: a private PostgreSQL with
// durable default settings, pgbench running the very SQL of the decision
// (the database ceiling), and the service in-process behind a real HTTP
// server, loaded by vegeta with a fixed number of closed-loop clients.
// cmd/bench wires it; `make bench` runs it.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/app"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
)

// Config is one run's settings.
type Config struct {
	// Mode is "quick" or "full"; it only names the run in the report.
	Mode string
	// DataDir holds the private cluster (postgres/) and the results.
	DataDir string
	// QueriesDir is the sqlc queries folder the ceiling reads its SQL from.
	QueriesDir string
	// Duration and Warmup are per measured point.
	Duration time.Duration
	Warmup   time.Duration
	// Clients are the closed-loop client counts of jobs.start and /healthz.
	Clients []int
	// Licenses is the size of the spread-out load (1,000).
	Licenses int
	// Windows are the window sizes of the window-growth phase.
	Windows []int
	// WindowDuration is the measured time per window point (one client).
	WindowDuration time.Duration
	// RegisterClients are the client counts of apps.register.
	RegisterClients []int
	// Phases limits the run to these phases (all when empty).
	Phases []string
	// Service is the service's configuration (pool size, timeouts...).
	Service config.Config
	// Log receives progress; the service's own request logs are
	// formatted as in production and discarded.
	Log *slog.Logger
}

// Quick is the default run: every phase, short points (about 3-4 minutes
// on 2 cores).
func Quick() Config {
	return Config{
		Mode:            "quick",
		DataDir:         filepath.Join(".data", "bench"),
		QueriesDir:      "queries",
		Duration:        6 * time.Second,
		Warmup:          time.Second,
		Clients:         []int{1, 16, 64},
		Licenses:        1000,
		Windows:         []int{100, 10_000, 100_000, 1_000_000},
		WindowDuration:  3 * time.Second,
		RegisterClients: []int{16},
		Service:         config.Default(),
	}
}

// Full is the long run: more client counts, 30-second points.
func Full() Config {
	c := Quick()
	c.Mode = "full"
	c.Duration = 30 * time.Second
	c.Warmup = 3 * time.Second
	c.Clients = []int{1, 4, 16, 32, 64, 128}
	c.WindowDuration = 10 * time.Second
	c.RegisterClients = []int{1, 16, 64}
	return c
}

// Runner holds a run's moving parts.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	cluster *pgembed.Cluster
	dbName  string
	dbURL   string
	pool    *pgxpool.Pool
	app     *app.App
	srv     *http.Server
	baseURL string
	report  Report
	// issue returns a license token for fixture license n (nil until the
	// service can issue tokens).
	issue func(ctx context.Context, n int) (string, error)
	// hot counts the fresh hot licenses used so far.
	hot int
	// timing splits the service's requests into database time and the rest.
	timing *timing
	// skipped keeps skip notes from repeating.
	skipped map[string]bool
}

const dbName = "bench"

// Run starts the private cluster and the service, runs the phases, and
// returns what it measured. It always stops what it started.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, log: cfg.Log, dbName: dbName, skipped: map[string]bool{}, timing: &timing{}}
	r.report = Report{Started: time.Now().UTC(), Mode: cfg.Mode}
	defer func() {
		if cerr := r.close(ctx); err == nil {
			err = cerr
		}
	}()
	if err := r.startDatabase(ctx); err != nil {
		return r.report, err
	}
	if err := r.startService(ctx); err != nil {
		return r.report, err
	}
	if err := r.describe(ctx); err != nil {
		return r.report, err
	}
	phases := []struct {
		name string
		run  func(context.Context) error
	}{
		{PhaseHealthz, r.healthz},
		{PhaseJobStart, r.jobStart},
		{PhaseWindow, r.window},
		{PhaseRegister, r.register},
	}
	for _, p := range phases {
		if len(cfg.Phases) > 0 && !slices.Contains(cfg.Phases, p.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return r.report, err
		}
		r.log.Info("bench: phase", "phase", p.name)
		if err := p.run(ctx); err != nil {
			if errors.Is(err, errSkip) {
				r.note(fmt.Sprintf("%s: %v", p.name, err))
				continue
			}
			return r.report, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	r.report.Finished = time.Now().UTC()
	r.report.Derive()
	return r.report, nil
}

// errSkip marks a phase that cannot run yet (what it measures is missing).
var errSkip = errors.New("skipped")

func (r *Runner) note(s string) {
	r.log.Info("bench: " + s)
	r.report.Notes = append(r.report.Notes, s)
}

// script records the first pgbench script of a phase for the report.
func (r *Runner) script(phase, s string) {
	if r.report.Scripts == nil {
		r.report.Scripts = map[string]string{}
	}
	if _, ok := r.report.Scripts[phase]; !ok {
		r.report.Scripts[phase] = s
	}
}

func (r *Runner) add(p Point) {
	r.log.Info("bench: point", "phase", p.Phase, "side", p.Side, "licenses", p.Licenses, "clients", p.Clients,
		"window", p.Window, "throughput", fmt.Sprintf("%.0f/s", p.Throughput),
		"p50_ms", fmt.Sprintf("%.2f", p.P50), "p99_ms", fmt.Sprintf("%.2f", p.P99), "errors", p.Errors, "first_error", p.FirstError)
	r.report.Points = append(r.report.Points, p)
}

// startDatabase starts the private cluster with PostgreSQL's durable
// defaults (fsync and synchronous_commit on: every admitted job is on
// disk before the answer) and creates a fresh, migrated database.
func (r *Runner) startDatabase(ctx context.Context) error {
	var err error
	r.cluster, err = pgembed.Start(ctx, pgembed.Config{
		DataDir: filepath.Join(r.cfg.DataDir, "postgres"),
		Logger:  r.log,
	})
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, r.cluster.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"DROP DATABASE IF EXISTS " + r.dbName + " WITH (FORCE)",
		"CREATE DATABASE " + r.dbName,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	r.dbURL = r.cluster.URL(r.dbName)
	return migrations.Up(r.dbURL)
}

// startService runs the service in this process, as cmd/licensingd does:
// internal/app on a pgx pool behind a real net/http server on a free port
// of 127.0.0.1.
func (r *Runner) startService(ctx context.Context) error {
	cfg := r.cfg.Service
	var err error
	// The pool is licensingd's, plus a tracer that times each request's
	// database calls (see timing).
	p, err := app.NewPool(ctx, r.dbURL, cfg)
	if err != nil {
		return err
	}
	pc := p.Config()
	p.Close()
	pc.ConnConfig.Tracer = r.timing
	if r.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return err
	}
	// Request logs are formatted as in production, then discarded.
	appLog := slog.New(slog.NewJSONHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.app, err = app.New(ctx, r.pool, cfg, appLog)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The server's settings that matter under load are licensingd's.
	r.srv = &http.Server{Handler: r.timing.wrap(r.app.Router), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	r.baseURL = "http://" + ln.Addr().String()
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("bench: http server", "err", err)
		}
	}()
	// Real license tokens, signed by the service's own keys.
	r.issue = func(ctx context.Context, n int) (string, error) {
		lic, err := db.New(r.pool).LicenseGet(ctx, licenseID(n))
		if err != nil {
			return "", err
		}
		iss, err := r.app.Tokens.Issue(ctx, lic, time.Time{})
		return iss.Token, err
	}
	r.log.Info("bench: service listening", "url", r.baseURL, "pool", cfg.PoolSize)
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// describe records the machine and the settings that decide commit cost.
func (r *Runner) describe(ctx context.Context) error {
	m := Machine{
		CPUs:     runtime.NumCPU(),
		CPUModel: cpuModel(),
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
		Go:       runtime.Version(),
		PoolSize: int(r.cfg.Service.PoolSize),
	}
	if err := r.pool.QueryRow(ctx, "SHOW server_version").Scan(&m.PostgreSQL); err != nil {
		return err
	}
	if i := strings.IndexByte(m.PostgreSQL, ' '); i > 0 {
		m.PostgreSQL = m.PostgreSQL[:i]
	}
	r.report.Machine = m
	rows, err := r.pool.Query(ctx, `SELECT name, setting FROM pg_settings
		WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_connections')`)
	if err != nil {
		return err
	}
	r.report.Settings = map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		r.report.Settings[k] = v
	}
	return rows.Err()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (r *Runner) close(ctx context.Context) error {
	if r.srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = r.srv.Shutdown(sctx)
		cancel()
	}
	if r.app != nil {
		r.app.Close()
	}
	if r.pool != nil {
		r.pool.Close()
	}
	if r.cluster != nil {
		return r.cluster.Stop(context.WithoutCancel(ctx))
	}
	return nil
}

// threads is pgbench's -j: one thread per core, like the Go runtime.
func threads() int { return runtime.NumCPU() }

// Write saves r as JSON (a timestamped file and latest.json), the Markdown
// tables (latest.md) and the chart (latest.svg) in dir, and returns the
// chart's path ("" when there is nothing to chart).
func Write(r Report, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	js = append(js, '\n')
	stamp := r.Started.UTC().Format("20060102T150405Z")
	files := map[string][]byte{
		stamp + ".json": js,
		"latest.json":   js,
		"latest.md":     []byte(Markdown(r)),
	}
	svg, err := SVG(r)
	if err != nil {
		return "", err
	}
	chart := ""
	if svg != nil {
		files["latest.svg"] = svg
		chart = filepath.Join(dir, "latest.svg")
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return chart, nil
}
