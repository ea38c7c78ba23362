package quota_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/quota"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a quota service on its own fresh database.
type env struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	svc  *quota.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvConns(t, 8)
}

// newEnvConns gives the service a pool of conns connections, for tests that
// need that many clients deciding at once.
func newEnvConns(t *testing.T, conns int32) *env {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &env{t: t, ctx: context.Background(), pool: pool, svc: quota.New(pool, slog.New(slog.DiscardHandler))}
}

var tenantSeq atomic.Int64

// license creates an ACTIVE license valid from a day ago for a year.
func (e *env) license(maxApps, maxExec int) uuid.UUID {
	e.t.Helper()
	var id uuid.UUID
	err := e.pool.QueryRow(e.ctx, `
		INSERT INTO licenses (tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
		VALUES ($1, 'Test tenant', $2, $3, now() - interval '1 day', now() + interval '365 days')
		RETURNING id`,
		fmt.Sprintf("tenant-%d-%d", time.Now().UnixNano(), tenantSeq.Add(1)), maxApps, maxExec).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(sql string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// register registers an app and fails the test on any error.
func (e *env) register(lic uuid.UUID, name string) quota.Application {
	e.t.Helper()
	out, err := e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: name})
	if err != nil {
		e.t.Fatalf("register %q: %v", name, err)
	}
	var a quota.Application
	mustDecode(e.t, out.Body, &a)
	return a
}

// start starts a job and fails the test on any error.
func (e *env) start(lic, app uuid.UUID) quota.Job {
	e.t.Helper()
	out, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.String(), Name: "job"})
	if err != nil {
		e.t.Fatalf("start: %v", err)
	}
	var j quota.Job
	mustDecode(e.t, out.Body, &j)
	return j
}

// usedFast and usedPlain are the two counts of the window.
func (e *env) usedFast(lic uuid.UUID) int64 {
	e.t.Helper()
	u, err := e.svc.Usage(e.ctx, lic)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Executions.Used
}

func (e *env) usedPlain(lic uuid.UUID) int64 {
	return e.count("SELECT used FROM license_window_plain_count WHERE license_id = $1", lic)
}

func mustDecode(t *testing.T, b []byte, dst any) {
	t.Helper()
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// wantCode fails unless err is a licensing.Error with code.
func wantCode(t *testing.T, err error, code licensing.Code) *licensing.Error {
	t.Helper()
	var le *licensing.Error
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
	return le
}
