// Package postgres is the store boundary: the pool, the one transaction
// helper, and the translation of database errors into licensing.Errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
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
	// LockTimeout bounds every lock wait on its own (lock_timeout); it is
	// meant to be shorter than StatementTimeout so that a row held by
	// another session fails fast with 55P03 (SERVICE_UNAVAILABLE).
	LockTimeout time.Duration
	// IdleInTransactionTimeout ends a session whose transaction stays idle
	// that long (idle_in_transaction_session_timeout): a transaction
	// abandoned by a bug cannot keep a license row locked for ever.
	IdleInTransactionTimeout time.Duration
	// Role, when set, is the role every connection switches to right after
	// connecting (SET ROLE): licensing_app, which may change rows but not
	// the schema and is subject to row-level security (migration 000004).
	// The user of the URL must be a member of it; migrations run as that
	// user, not through this pool.
	Role string
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
	if pc.LockTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = fmt.Sprint(pc.LockTimeout.Milliseconds())
	}
	if pc.IdleInTransactionTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(pc.IdleInTransactionTimeout.Milliseconds())
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "licensingd"
	if pc.Role != "" {
		setRole := "SET ROLE " + pgx.Identifier{pc.Role}.Sanitize()
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			if _, err := c.Exec(ctx, setRole); err != nil {
				return fmt.Errorf("postgres: %s (is the role created by migration 000004 and granted to this user?): %w", setRole, err)
			}
			return nil
		}
	}
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

// WithLicenseTx is WithTx for work done on behalf of one license: the
// transaction's setting licensing.license_id names it, and row-level
// security (migration 000004) then shows the transaction that license's
// applications, jobs and idempotency keys only. The setting is made in the
// same round trip as BEGIN, so it costs the decision nothing.
func WithLicenseTx(ctx context.Context, pool *pgxpool.Pool, licenseID uuid.UUID, fn func(q *db.Queries) error) error {
	// A uuid.UUID prints as 36 hex digits and dashes: safe to inline.
	return withSettingTx(ctx, pool, "licensing.license_id", licenseID.String(), fn)
}

// WithAllLicensesTx is WithTx for an admin read that spans licenses on
// purpose (the console's usage list): row-level security lets it read every
// license's rows, and write none of them.
func WithAllLicensesTx(ctx context.Context, pool *pgxpool.Pool, fn func(q *db.Queries) error) error {
	return withSettingTx(ctx, pool, "licensing.all_licenses", "on", fn)
}

// withSettingTx runs fn in a READ COMMITTED transaction whose setting name
// is value (both constants or UUIDs, never client text), set by the BEGIN
// round trip itself.
func withSettingTx(ctx context.Context, pool *pgxpool.Pool, name, value string, fn func(q *db.Queries) error) error {
	begin := "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config('" + name + "', '" + value + "', true)"
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
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
// timeouts, serialization failures and a server shutting down become
// SERVICE_UNAVAILABLE (retryable, with Retry-After); a value the database
// refuses as data (SQLSTATE class 22, a CHECK constraint) becomes
// VALIDATION_FAILED, so a bad input that slipped past validation is still a
// 400 and never a 500; the rest is internal.
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
		switch {
		case pe.Code == "57014", pe.Code == "55P03", pe.Code == "40001", pe.Code == "40P01",
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "25P03":
			// query_canceled (statement_timeout), lock_not_available
			// (lock_timeout), serialization failure, deadlock, admin
			// shutdown, crash shutdown, cannot connect now,
			// idle_in_transaction_session_timeout.
			return unavailable(err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"):
			// Connection exceptions; insufficient resources (too many
			// connections, out of memory, disk full).
			return unavailable(err)
		case strings.HasPrefix(pe.Code, "22"):
			// Data exceptions: a NUL byte, a number or date out of range,
			// a malformed value.
			return &licensing.Error{Code: licensing.CodeValidation, Message: "a value in the request cannot be stored: out of range or malformed", Err: err}
		case pe.Code == "23514":
			return &licensing.Error{Code: licensing.CodeValidation, Message: "the request breaks the rule " + pe.ConstraintName, Err: err}
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

// isConnError reports a failure of the connection itself: it could not be
// made, it timed out, or the server went away mid-conversation (a restart).
func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
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
