// Package app builds the service from a database pool and a configuration:
// the one place where the domain services and the HTTP router are wired
// together, shared by cmd/licensingd and the tests.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/api"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/postgres"
)

// App is the wired service.
type App struct {
	Config config.Config
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	Router *gin.Engine
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
	a := &App{Config: cfg, Pool: pool, Logger: log}
	a.Router = api.NewRouter(api.Deps{
		Logger: log,
		Pool:   pool,
		Ready: func(ctx context.Context) error {
			var v int64
			if err := pool.QueryRow(ctx, "SELECT version FROM schema_migrations WHERE NOT dirty").Scan(&v); err != nil {
				return postgres.Translate(err)
			}
			if uint(v) != latest {
				return fmt.Errorf("schema version %d, want %d", v, latest)
			}
			return nil
		},
	})
	return a, nil
}

// Close stops the app's background work. The pool belongs to the caller.
func (a *App) Close() {}
