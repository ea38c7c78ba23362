package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/postgres"
)

// schemaReady reports whether the database answers and its schema is at
// least the latest migration this build knows. A newer schema is fine: the
// replicas of a rolling upgrade keep serving while the first new one
// migrates, so migrations must stay compatible with the previous release.
func schemaReady(ctx context.Context, pool *pgxpool.Pool, latest uint) error {
	var version int64
	var dirty bool
	err := pool.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || postgres.SQLState(err) == "42P01": // undefined_table
		version = 0
	case postgres.SQLState(err) == "42501": // insufficient_privilege
		// The service role may read the version from migration 000004 on.
		return &licensing.Error{Code: licensing.CodeUnavailable,
			Message: fmt.Sprintf("the service role cannot read the schema version yet, this build needs %d (run licensingd migrate up)", latest)}
	case err != nil:
		return postgres.Translate(err)
	case dirty:
		return &licensing.Error{Code: licensing.CodeUnavailable,
			Message: fmt.Sprintf("the schema is dirty at version %d: a migration failed and needs a human", version)}
	}
	if version < int64(latest) {
		return &licensing.Error{Code: licensing.CodeUnavailable,
			Message: fmt.Sprintf("the schema is at version %d, this build needs %d (run licensingd migrate up)", version, latest)}
	}
	return nil
}

// newRegistry makes the app's registry with the Go runtime, the process and
// the pool figures (acquired, idle, total and max connections, acquire
// count and duration, acquires that found the pool empty).
func newRegistry(pool *pgxpool.Pool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), // go_build_info: the module version and Go release
		pgxpoolprometheus.NewCollector(pool, nil),
	)
	return reg
}
