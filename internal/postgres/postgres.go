// Package postgres is the store boundary: the pool, the one transaction
// helper, and the translation of database errors into licensing.Errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
)

// PoolConfig tunes the pool.
type PoolConfig struct {
	MaxConns int32
	// StatementTimeout bounds every statement (and so every lock wait), so a
	// stuck lock turns into a clean error instead of a hung request.
	StatementTimeout time.Duration
}

// NewPool opens a pool on url.
func NewPool(ctx context.Context, url string, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DATABASE_URL: %w", err)
	}
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	if pc.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(pc.StatementTimeout.Milliseconds())
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "licensingd"
	return pgxpool.NewWithConfig(ctx, cfg)
}

// WithTx runs fn in one READ COMMITTED transaction: committed when fn returns
// nil, rolled back otherwise. The rollback runs even when ctx is cancelled.
func WithTx(ctx context.Context, pool *pgxpool.Pool, fn func(q *db.Queries) error) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return Translate(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(db.New(tx)); err != nil {
		return Translate(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Translate(err)
	}
	return nil
}

// Translate turns a database error into a licensing.Error once, at the
// store boundary. Errors that are already licensing.Errors pass through;
// pgx.ErrNoRows becomes NOT_FOUND; connection failures, lock and statement
// timeouts become SERVICE_UNAVAILABLE (retryable); the rest is internal.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var le *licensing.Error
	if errors.As(err, &le) {
		return le
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &licensing.Error{Code: licensing.CodeNotFound, Message: "not found", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if c, ok := constraintErrors[pe.ConstraintName]; ok {
			return &licensing.Error{Code: c.code, Message: c.message, Fields: c.fields, Err: err}
		}
		switch pe.Code {
		case "57014", "55P03", "40001", "40P01", "57P01", "57P02", "57P03", "53300":
			// query_canceled (statement_timeout), lock_not_available,
			// serialization/deadlock, admin shutdown, crash shutdown,
			// cannot connect now, too many connections.
			return unavailable(err)
		}
		return licensing.Internal(err)
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || isConnError(err) {
		return unavailable(err)
	}
	if errors.Is(err, context.Canceled) {
		return &licensing.Error{Code: licensing.CodeUnavailable, Message: "request cancelled", Err: err}
	}
	return licensing.Internal(err)
}

// constraintErrors says what the violation of a named constraint means to a
// client. The service validates input first; these catch what only the
// database can decide (uniqueness under concurrency) and anything that slips
// past validation.
var constraintErrors = map[string]struct {
	code    licensing.Code
	message string
	fields  []licensing.FieldError
}{
	"licenses_tenant_id_key": {licensing.CodeTenantTaken, "a license for this tenant_id exists already", nil},
	"admin_keys_name_key":    {licensing.CodeAdminKeyNameTaken, "an admin key with this name exists already (names stay taken after revocation)", nil},
	"tenant_id_format": {licensing.CodeValidation, "the request has invalid fields",
		[]licensing.FieldError{{Field: "tenant_id", Message: "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"}}},
	"tenant_name_length": {licensing.CodeValidation, "the request has invalid fields",
		[]licensing.FieldError{{Field: "tenant_name", Message: "must be 1 to 255 characters"}}},
	"max_apps_non_negative": {licensing.CodeValidation, "the request has invalid fields",
		[]licensing.FieldError{{Field: "max_apps", Message: "must not be negative"}}},
	"max_executions_non_negative": {licensing.CodeValidation, "the request has invalid fields",
		[]licensing.FieldError{{Field: "max_executions_per_24h", Message: "must not be negative"}}},
	"validity_ordered": {licensing.CodeValidation, "the request has invalid fields",
		[]licensing.FieldError{{Field: "valid_to", Message: "must be after valid_from"}}},
}

func unavailable(err error) *licensing.Error {
	return &licensing.Error{
		Code:              licensing.CodeUnavailable,
		Message:           "the database is unavailable; retry shortly",
		RetryAfterSeconds: 1,
		Err:               err,
	}
}

func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return true
	}
	return pgconn.Timeout(err)
}

// ConstraintName returns the violated constraint of a PostgreSQL error, or "".
func ConstraintName(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}

// SQLState returns the SQLSTATE of a PostgreSQL error, or "".
func SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
