// Package authlimit slows down the guessing of credentials: a client that
// fails to authenticate too often in a window is refused until the window
// ends. The counts live in PostgreSQL (table auth_failures, migration
// 000004), so every replica enforces the same limit.
package authlimit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/postgres"
)

// maxClientLen bounds the stored client key (an IPv6 address is at most 45).
const maxClientLen = 64

// Limiter counts failed authentications per scope and client in fixed
// windows. It is safe for concurrent use.
type Limiter struct {
	pool   *pgxpool.Pool
	max    int32
	window time.Duration
	log    *slog.Logger
}

// New returns a Limiter that refuses a client after maxFailures failures
// within window, until the window ends.
func New(pool *pgxpool.Pool, maxFailures int, window time.Duration, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	return &Limiter{pool: pool, max: int32(maxFailures), window: window, log: log}
}

func clientKey(client string) string {
	if client == "" {
		client = "unknown"
	}
	if len(client) > maxClientLen {
		client = client[:maxClientLen]
	}
	return client
}

// BlockedFor returns how long client is still refused in scope, or 0 when
// it may try. Errors are SERVICE_UNAVAILABLE when the database cannot
// answer: the caller then refuses too (fail closed).
func (l *Limiter) BlockedFor(ctx context.Context, scope, client string) (time.Duration, error) {
	secs, err := db.New(l.pool).AuthFailureBlockedFor(ctx, db.AuthFailureBlockedForParams{
		WindowSeconds: l.window.Seconds(),
		Scope:         scope,
		Client:        clientKey(client),
		MaxFailures:   l.max,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, postgres.Translate(err)
	}
	if secs < 1 {
		secs = 1
	}
	return time.Duration(secs) * time.Second, nil
}

// Fail counts one failed attempt of client in scope and forgets the windows
// that have ended. It returns the failures in the client's window.
func (l *Limiter) Fail(ctx context.Context, scope, client string) (int, error) {
	q := db.New(l.pool)
	n, err := q.AuthFailureRecord(ctx, db.AuthFailureRecordParams{
		Scope:         scope,
		Client:        clientKey(client),
		WindowSeconds: l.window.Seconds(),
	})
	if err != nil {
		return 0, postgres.Translate(err)
	}
	if n == l.max {
		l.log.WarnContext(ctx, "authlimit: client refused after repeated failed authentications",
			"scope", scope, "client", clientKey(client), "failures", n, "window", l.window)
	}
	if _, err := q.AuthFailurePrune(ctx, l.window.Seconds()); err != nil {
		l.log.WarnContext(ctx, "authlimit: prune failed", "err", err)
	}
	return int(n), nil
}
