package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/app"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
)

// Main is the running server: its database (the private cluster when
// DATABASE_URL is unset), pool, app and HTTP server. Run starts them in
// that order and Close stops them in the reverse one, so requests in flight
// finish before the pool and the database go away.
type Main struct {
	Config config.Config
	Logger *slog.Logger

	// Pool and App are set by Run.
	Pool *pgxpool.Pool
	App  *app.App

	stopDB func()
	// cluster is the private PostgreSQL when DATABASE_URL is unset.
	cluster *pgembed.Cluster
	ln      net.Listener
	server  *http.Server
	errc    chan error

	// wrap, when set before Run, wraps the app's handler (tests use it to
	// hold a request in flight).
	wrap func(http.Handler) http.Handler
}

// NewMain returns a server for cfg, not yet running.
func NewMain(cfg config.Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: log, stopDB: func() {}, errc: make(chan error, 1)}
}

// Run opens the database, migrates it, wires the app and starts serving in
// the background. It returns once the listener is bound, so Addr is valid.
// A failed Run leaves what it started for Close to stop.
func (m *Main) Run(ctx context.Context) error {
	url, cl, stopDB, err := database(ctx, m.Config, m.Logger)
	if err != nil {
		return err
	}
	m.stopDB, m.cluster = stopDB, cl
	if err := migrations.Up(url); err != nil {
		return err
	}
	m.Pool, err = app.NewPool(ctx, url, m.Config)
	if err != nil {
		return err
	}
	if m.App, err = app.New(ctx, m.Pool, m.Config, m.Logger); err != nil {
		return err
	}
	var h http.Handler = m.App.Router
	if m.wrap != nil {
		h = m.wrap(h)
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return err
	}
	m.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A client trickling a body cannot hold a connection for ever.
		ReadTimeout:    time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		TLSConfig:      &tls.Config{MinVersion: tls.VersionTLS12},
		ErrorLog:       slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	useTLS := m.Config.TLSCert != ""
	m.Logger.Info("licensingd listening", "addr", m.ln.Addr().String(), "tls", useTLS)
	go func() {
		var err error
		if useTLS {
			err = m.server.ServeTLS(m.ln, m.Config.TLSCert, m.Config.TLSKey)
		} else {
			err = m.server.Serve(m.ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			m.errc <- err
		}
	}()
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Err delivers an error if the server stops serving on its own.
func (m *Main) Err() <-chan error { return m.errc }

// Close drains the requests in flight (for at most ShutdownTimeout, then it
// cuts the rest), then stops the app, the pool and the private database.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		m.Logger.Info("shutting down: draining requests in flight", "timeout", m.Config.ShutdownTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		err := m.server.Shutdown(ctx)
		cancel()
		if err != nil {
			m.Logger.Error("shutdown: requests still in flight were cut off", "err", err)
			errs = append(errs, fmt.Errorf("shutdown: %w", err), m.server.Close())
		}
	}
	if m.App != nil {
		m.App.Close()
	}
	if m.Pool != nil {
		m.Pool.Close()
	}
	m.stopDB()
	m.Logger.Info("licensingd stopped")
	return errors.Join(errs...)
}

// database returns the URL to use: DATABASE_URL, or the private cluster
// (returned too), started here and stopped by the returned function. While
// another licensingd owns the private cluster it fails with pgembed.ErrInUse
// and leaves that cluster alone.
func database(ctx context.Context, cfg config.Config, log *slog.Logger) (string, *pgembed.Cluster, func(), error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, nil, func() {}, nil
	}
	pc := pgembed.Config{
		DataDir: filepath.Join(cfg.DataDir, "postgres"),
		Port:    cfg.EmbeddedPGPort,
		BinDir:  cfg.PGBinDir,
		Logger:  log,
	}
	log.Info("DATABASE_URL is unset: using the private PostgreSQL cluster", "dir", pc.DataDir)
	cl, err := pgembed.Start(ctx, pc)
	if errors.Is(err, pgembed.ErrDataDirUnreachable) {
		// As root the cluster runs as the postgres OS user, who may not
		// traverse the checkout's parents (a home directory with mode 0700).
		fallback := fallbackDataDir(pc.DataDir)
		log.Warn("the postgres OS user cannot reach the data directory; using one under the temp directory instead, "+
			"which may not survive a reboot (set LICENSING_DATA_DIR to keep the data elsewhere)",
			"data_dir", pc.DataDir, "fallback", fallback)
		pc.DataDir = fallback
		cl, err = pgembed.Start(ctx, pc)
	}
	if err != nil {
		return "", nil, nil, err
	}
	stopCluster := func() {
		if err := cl.Stop(context.WithoutCancel(ctx)); err != nil {
			log.Error("stopping the private PostgreSQL failed", "err", err)
		}
	}
	if err := createDatabase(ctx, cl.URL("postgres"), "licensing"); err != nil {
		stopCluster()
		return "", nil, nil, err
	}
	return cl.URL("licensing"), cl, stopCluster, nil
}

// fallbackDataDir is a stable directory under the temp directory for
// dataDir, so a second run finds the data of the first.
func fallbackDataDir(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "licensing-"+hex.EncodeToString(sum[:6]), "postgres")
}

// createDatabase creates database name beside the maintenance database
// unless it exists.
func createDatabase(ctx context.Context, maintenanceURL, name string) error {
	conn, err := pgx.Connect(ctx, maintenanceURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}
