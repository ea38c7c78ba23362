package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPoolTimeouts checks that the pool's sessions carry the configured
// statement, lock and idle-in-transaction timeouts, and that hitting the
// first two yields a retryable SERVICE_UNAVAILABLE.
func TestPoolTimeouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.NewPool(ctx, url, postgres.PoolConfig{
		MaxConns:                 2,
		StatementTimeout:         300 * time.Millisecond,
		LockTimeout:              100 * time.Millisecond,
		IdleInTransactionTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for name, want := range map[string]string{
		"statement_timeout":                   "300ms",
		"lock_timeout":                        "100ms",
		"idle_in_transaction_session_timeout": "10s",
	} {
		var got string
		if err := pool.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil || got != want {
			t.Fatalf("%s = %q (%v), want %q", name, got, err, want)
		}
	}

	// Another session holds a lock on a table the pool wants.
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT id FROM held WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, "SELECT id FROM held WHERE id = 1 FOR UPDATE")
	if e := licensing.AsError(postgres.Translate(err)); e.Code != licensing.CodeUnavailable || e.RetryAfterSeconds < 1 || postgres.SQLState(err) != "55P03" {
		t.Fatalf("lock held elsewhere: %v (sqlstate %s)", err, postgres.SQLState(err))
	}
	_, err = pool.Exec(ctx, "SELECT pg_sleep(5)")
	if e := licensing.AsError(postgres.Translate(err)); e.Code != licensing.CodeUnavailable || postgres.SQLState(err) != "57014" {
		t.Fatalf("statement timeout: %v", err)
	}
}

// TestTranslate checks the store-boundary translation of real PostgreSQL
// errors and of connection failures.
func TestTranslate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	cases := []struct {
		sql  string
		args []any
		want licensing.Code
	}{
		{"SELECT $1::text", []any{"a\x00b"}, licensing.CodeValidation},
		{"SELECT '1e400'::numeric::float8", nil, licensing.CodeValidation},
		{"SELECT 'not a uuid'::uuid", nil, licensing.CodeValidation},
		{"SELECT '300000-01-01'::timestamptz", nil, licensing.CodeValidation},
		{"SELECT '{\"a\":\"\\u0000\"}'::jsonb", nil, licensing.CodeValidation},
		{"SELECT 1/0", nil, licensing.CodeValidation},
		{"SELECT * FROM no_such_table", nil, licensing.CodeInternal},
		{"SELECT 1 WHERE false", nil, licensing.CodeNotFound},
	}
	for _, tc := range cases {
		var v any
		err := pool.QueryRow(ctx, tc.sql, tc.args...).Scan(&v)
		if got := licensing.ErrorCode(postgres.Translate(err)); got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.sql, got, err, tc.want)
		}
	}
	for _, err := range []error{
		io.ErrUnexpectedEOF,
		&net.OpError{Op: "read", Err: errors.New("connection reset by peer")},
		pgconn.ErrConnClosed,
		context.DeadlineExceeded,
		&pgconn.PgError{Code: "57P01"},
		&pgconn.PgError{Code: "08006"},
		&pgconn.PgError{Code: "53300"},
	} {
		if got := licensing.ErrorCode(postgres.Translate(err)); got != licensing.CodeUnavailable {
			t.Errorf("%v: %s, want SERVICE_UNAVAILABLE", err, got)
		}
	}
	_, err := pgx.Connect(ctx, "postgres://nobody@127.0.0.1:1/x?connect_timeout=1")
	if got := licensing.ErrorCode(postgres.Translate(err)); got != licensing.CodeUnavailable {
		t.Errorf("refused connection: %s (%v)", got, err)
	}
}
