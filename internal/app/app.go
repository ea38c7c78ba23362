// Package app builds the service from a database pool and a configuration:
// the one place where the domain services and the HTTP router are wired
// together, shared by cmd/licensingd and the tests.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/licensing-service/licensing/api"
	"github.com/licensing-service/licensing/api/console"
	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/authlimit"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/postgres"
	"github.com/licensing-service/licensing/internal/quota"
	"github.com/licensing-service/licensing/internal/tokens"
)

// App is the wired service.
type App struct {
	Config config.Config
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	Router *gin.Engine
	// Metrics is the app's own Prometheus registry, served at GET /metrics.
	// Services register their figures here, never in the global registry.
	Metrics *prometheus.Registry
	// Tokens issues and verifies license tokens.
	Tokens *tokens.Service
	// Admin is license administration, for the API and the console.
	Admin *admin.Service
	// Quota decides registrations and job starts.
	Quota *quota.Service
	// Console is the admin console served at /console.
	Console *console.Console

	stop func() // ends the background work (the pruner)
}

// New wires the service on pool. The schema must already be migrated.
func New(ctx context.Context, pool *pgxpool.Pool, cfg config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	latest, err := migrations.Latest()
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Pool: pool, Logger: log, Metrics: newRegistry(pool)}
	a.Tokens = tokens.New(pool, tokens.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL}, log)
	a.Metrics.MustRegister(a.Tokens.Collectors()...)
	a.Admin = admin.New(pool, admin.Config{AdminToken: cfg.AdminToken}, a.Tokens, log)
	a.Quota = quota.New(pool, log)
	a.Metrics.MustRegister(a.Quota.Collectors()...)
	a.stop = a.startPruner(cfg.PruneInterval)
	limiter := authlimit.New(pool, cfg.AdminAuthMaxFailures, cfg.AdminAuthWindow, log)
	a.Console, err = console.New(console.Options{
		SigninGuard: api.SigninGuard(limiter),
		Service:     console.Domain{Admin: a.Admin, Quota: a.Quota},
		Logger:      log,
		Secret:      []byte(cfg.ConsoleSecret),
		StatusOf:    api.StatusOf,
	})
	if err != nil {
		return nil, err
	}
	a.Router = api.NewRouter(api.Deps{
		Logger:         log,
		Pool:           pool,
		Metrics:        a.Metrics,
		Tokens:         a.Tokens,
		Limits:         limits(cfg, pool),
		AuthLimiter:    limiter,
		Ready:          func(ctx context.Context) error { return schemaReady(ctx, pool, latest) },
		Admin:          a.Admin,
		Quota:          a.Quota,
		TrustedProxies: cfg.TrustedProxies,
		Console:        a.Console,
	})
	return a, nil
}

// limits sizes request admission from the pool: as many requests run at once
// as the pool has connections, unless configured otherwise.
func limits(cfg config.Config, pool *pgxpool.Pool) api.Limits {
	l := api.Limits{
		RequestTimeout: cfg.RequestTimeout,
		MaxInFlight:    cfg.MaxInFlight,
		MaxQueue:       cfg.MaxQueue,
		QueueTimeout:   cfg.QueueTimeout,
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = int(pool.Config().MaxConns)
	}
	if l.MaxQueue <= 0 {
		l.MaxQueue = 32 * l.MaxInFlight
	}
	return l
}

// NewPool opens the service's pool on url with the configured size and
// timeouts; cmd/licensingd and the tests use it alike.
func NewPool(ctx context.Context, url string, cfg config.Config) (*pgxpool.Pool, error) {
	return postgres.NewPool(ctx, url, postgres.PoolConfig{
		MaxConns:                 cfg.PoolSize,
		StatementTimeout:         cfg.StatementTimeout,
		LockTimeout:              cfg.LockTimeout,
		IdleInTransactionTimeout: idleInTransactionTimeout(cfg),
		Role:                     dbRole(cfg),
	})
}

// dbRole is the role the pool works as; "none" keeps the connecting user.
func dbRole(cfg config.Config) string {
	if cfg.DBRole == "none" {
		return ""
	}
	return cfg.DBRole
}

// idleInTransactionTimeout ends sessions whose transaction was abandoned:
// no request legitimately idles in a transaction longer than it lives.
func idleInTransactionTimeout(cfg config.Config) time.Duration {
	d := 2 * cfg.RequestTimeout
	if d < 10*time.Second {
		d = 10 * time.Second
	}
	return d
}

// Close stops the app's background work. The pool belongs to the caller.
func (a *App) Close() {
	if a.stop != nil {
		a.stop()
	}
}

// startPruner runs the job pruner (when pg_cron does not) until the
// returned function is called; that function waits for it to end.
func (a *App) startPruner(interval time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Quota.RunPruner(ctx, interval)
	}()
	return func() {
		cancel()
		<-done
	}
}
