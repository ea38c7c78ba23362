// Command licensingd is the licensing service: `serve` (the default) runs the
// HTTP server, `migrate up|down|version` manages the schema.
//
// With DATABASE_URL unset it runs on a private PostgreSQL cluster under
// .data/postgres, made from the machine's PostgreSQL binaries.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/app"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
	"github.com/licensing-service/licensing/internal/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "licensingd:", err)
		os.Exit(1)
	}
}

const usage = `usage: licensingd [serve]
       licensingd migrate up|down [N]|version`

func run(ctx context.Context, args []string) error {
	cfg, err := config.FromEnv(nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrateCmd(ctx, cfg, log, args)
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// database returns the URL to use: DATABASE_URL, or the private cluster,
// started here and stopped by the returned function.
func database(ctx context.Context, cfg config.Config, log *slog.Logger) (string, func(), error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	log.Info("DATABASE_URL is unset: using the private PostgreSQL cluster", "dir", filepath.Join(cfg.DataDir, "postgres"))
	cl, err := pgembed.Start(ctx, pgembed.Config{
		DataDir: filepath.Join(cfg.DataDir, "postgres"),
		Port:    cfg.EmbeddedPGPort,
		Logger:  log,
	})
	if err != nil {
		return "", nil, err
	}
	stopCluster := func() {
		if err := cl.Stop(context.WithoutCancel(ctx)); err != nil {
			log.Error("stopping the private PostgreSQL failed", "err", err)
		}
	}
	// The service's database lives beside the maintenance database.
	conn, err := pgx.Connect(ctx, cl.URL("postgres"))
	if err != nil {
		stopCluster()
		return "", nil, err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'licensing')").Scan(&exists); err != nil {
		stopCluster()
		return "", nil, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE licensing"); err != nil {
			stopCluster()
			return "", nil, err
		}
	}
	return cl.URL("licensing"), stopCluster, nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	url, stopDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDB()
	if err := migrations.Up(url); err != nil {
		return err
	}
	pool, err := postgres.NewPool(ctx, url, postgres.PoolConfig{MaxConns: cfg.PoolSize, StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		return err
	}
	defer pool.Close()
	a, err := app.New(ctx, pool, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := &http.Server{Addr: cfg.Addr, Handler: a.Router, ReadHeaderTimeout: 10e9}
	errc := make(chan error, 1)
	go func() {
		log.Info("licensingd listening", "addr", cfg.Addr, "tls", cfg.TLSCert != "")
		if cfg.TLSCert != "" {
			errc <- srv.ListenAndServeTLS(cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrateCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	url, stopDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDB()
	switch args[0] {
	case "up":
		return migrations.Up(url)
	case "down":
		steps := 1
		if len(args) > 1 {
			if args[1] == "all" {
				steps = 0
			} else if steps, err = strconv.Atoi(args[1]); err != nil || steps < 1 {
				return fmt.Errorf("migrate down: N must be a positive number or all")
			}
		}
		return migrations.Down(url, steps)
	case "version":
		v, dirty, err := migrations.Version(url)
		if err != nil {
			return err
		}
		fmt.Printf("version %d (dirty: %v)\n", v, dirty)
		return nil
	}
	return errors.New(usage)
}
