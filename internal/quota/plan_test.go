package quota_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/licensing-service/licensing/db"
)

// explainer is a db.DBTX that runs each query under EXPLAIN ANALYZE
// instead, and keeps the plans: the tests read how many rows each step of
// the real generated queries touched.
type explainer struct {
	tx    pgx.Tx
	plans []json.RawMessage
}

func (x *explainer) explain(ctx context.Context, sql string, args ...any) error {
	var plan json.RawMessage
	if err := x.tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
		return err
	}
	x.plans = append(x.plans, plan)
	return errExplained
}

var errExplained = errors.New("explained")

func (x *explainer) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, x.explain(ctx, sql, args...)
}

func (x *explainer) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return nil, x.explain(ctx, sql, args...)
}

func (x *explainer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return errRow{x.explain(ctx, sql, args...)}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// maxRows walks a JSON plan and returns the most rows any one step
// produced or threw away (over all its loops).
func maxRows(t *testing.T, plan json.RawMessage) float64 {
	t.Helper()
	var doc []struct {
		Plan map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("plan: %v %s", err, plan)
	}
	var walk func(n map[string]any) float64
	walk = func(n map[string]any) float64 {
		num := func(k string) float64 { f, _ := n[k].(float64); return f }
		loops := max(num("Actual Loops"), 1)
		most := loops * max(num("Actual Rows"), num("Rows Removed by Filter"), num("Rows Removed by Join Filter"), num("Rows Removed by Index Recheck"))
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			most = max(most, walk(k.(map[string]any)))
		}
		return most
	}
	return walk(doc[0].Plan)
}

// TestDecisionCostDoesNotGrowWithHistory: with 20,000 jobs kept outside
// the window and 50 inside, no step of JobStart or of the license_usage
// view touches more than a handful of rows, as the service's role under
// row-level security: the window is found by index bounds, never by
// filtering the history.
func TestDecisionCostDoesNotGrowWithHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 1000)
	app := e.register(lic, "a")
	e.exec(`INSERT INTO jobs (license_id, application_id, seq, name, started_at)
		SELECT $1, $2, s, 'j', now() - interval '6 days' + s * interval '10 seconds'
		FROM generate_series(1, 20000) AS s`, lic, app.ID)
	e.exec(`INSERT INTO jobs (license_id, application_id, seq, name, started_at)
		SELECT $1, $2, 20000 + s, 'j', now() - interval '1 hour' + s * interval '1 second'
		FROM generate_series(1, 50) AS s`, lic, app.ID)
	e.exec("ANALYZE jobs")

	ctx := context.Background()
	// With room in the window (a start is admitted), and full (refused:
	// next_slot_at is looked up too).
	for _, limit := range []int{1000, 50} {
		e.exec("UPDATE licenses SET max_executions_per_24h = $2 WHERE id = $1", lic, limit)
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// As the service runs: the licensing_app role under row-level
		// security, working for this license (migration 000004).
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE licensing_app"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('licensing.license_id', $1, true)", lic.String()); err != nil {
			t.Fatal(err)
		}
		x := &explainer{tx: tx}
		q := db.New(x)
		_, _ = q.JobStart(ctx, db.JobStartParams{LicenseID: lic, ApplicationID: app.ID, Name: "j", Metadata: []byte("{}")})
		_, _ = q.LicenseUsageGet(ctx, lic)
		_, _ = q.ApplicationRegister(ctx, db.ApplicationRegisterParams{LicenseID: lic, Name: "b", Metadata: []byte("{}")})
		_ = tx.Rollback(ctx)
		if len(x.plans) != 3 {
			t.Fatalf("%d plans", len(x.plans))
		}
		for i, name := range []string{"JobStart", "LicenseUsageGet", "ApplicationRegister"} {
			if most := maxRows(t, x.plans[i]); most > 10 {
				t.Errorf("limit %d: %s: a step touched %v rows:\n%s", limit, name, most, x.plans[i])
			}
		}
	}
}
