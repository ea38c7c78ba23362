package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Fixture licenses and applications have ids computed from a number n, in
// Go here and in SQL in the pgbench scripts, so that pgbench can address
// 1,000 licenses from `\set n random(1, 1000)` without an extra lookup.
// Ranges of n: 1..Licenses the spread-out load, then one fresh license per
// hot point, per window size and per registration point.
const (
	hotBase      = 1_000_000
	windowBase   = 2_000_000
	registerBase = 3_000_000
)

const (
	licensePrefix = "00000000-0000-4000-8000-"
	appPrefix     = "00000000-0000-4000-8001-"
)

// licenseID is fixture license n's id.
func licenseID(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("%s%012d", licensePrefix, n)) }

// appID is the id of fixture license n's application.
func appID(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("%s%012d", appPrefix, n)) }

// idSQL is the SQL expression of licenseID or appID (by prefix) for the
// number the SQL expression n evaluates to.
func idSQL(prefix, n string) string {
	return fmt.Sprintf("('%s' || lpad((%s)::text, 12, '0'))::uuid", prefix, n)
}

// seedLicenses creates fixture licenses from..to (inclusive), each with one
// application, with limits no run can reach: the benchmark measures
// admissions, not refusals.
func (r *Runner) seedLicenses(ctx context.Context, from, to int) error {
	_, err := r.pool.Exec(ctx, fmt.Sprintf(`
INSERT INTO licenses (id, tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
SELECT %s, 'bench-' || n, 'Benchmark tenant ' || n, 2147483647, 2147483647,
       now() - interval '1 day', now() + interval '10 years'
FROM generate_series($1::int, $2::int) AS n`, idSQL(licensePrefix, "n")), from, to)
	if err != nil {
		return fmt.Errorf("seed licenses: %w", err)
	}
	_, err = r.pool.Exec(ctx, fmt.Sprintf(`
INSERT INTO applications (id, license_id, name)
SELECT %s, %s, 'bench-app'
FROM generate_series($1::int, $2::int) AS n`, idSQL(appPrefix, "n"), idSQL(licensePrefix, "n")), from, to)
	if err != nil {
		return fmt.Errorf("seed applications: %w", err)
	}
	return nil
}

// seedWindow fills fixture license n's window with size executions, as
// JobStart would have numbered them: seq 1..size, started_at increasing
// with seq over the last 20 hours, the newest a moment ago. The job ids
// increase too (unlike gen_random_uuid()), so every index grows at its
// right edge and a million rows go in quickly.
func (r *Runner) seedWindow(ctx context.Context, n, size int) error {
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// A million rows take longer than the service's statement timeout.
		// The rows reference a license and application that exist, so the
		// foreign-key triggers (two per row) are skipped: replica mode.
		for _, set := range []string{"SET LOCAL statement_timeout = 0", "SET LOCAL session_replication_role = replica"} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `
INSERT INTO jobs (id, license_id, application_id, seq, name, status, started_at)
SELECT format('%s-%s-4000-8000-%s', lpad(to_hex($4::int), 8, '0'), lpad(to_hex(s >> 48), 4, '0'), lpad(to_hex(s & 281474976710655), 12, '0'))::uuid,
       $1::uuid, $2::uuid, s, 'seed', 'RUNNING',
       now() - interval '20 hours' + (s - 1) * (interval '20 hours' / $3::int)
FROM generate_series(1, $3::bigint) AS s`, licenseID(n), appID(n), size, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("seed a window of %d: %w", size, err)
	}
	return nil
}

// query returns the SQL of the sqlc query name in QueriesDir/file, or an
// errSkip when it does not exist (yet).
func (r *Runner) query(file, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(r.cfg.QueriesDir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: no %s", errSkip, filepath.Join(r.cfg.QueriesDir, file))
	}
	if err != nil {
		return "", err
	}
	q, err := QueryText(string(b), name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errSkip, err)
	}
	return q, nil
}

// decisionScript is the pgbench script of one decision as the service runs
// it (internal/quota): a READ COMMITTED transaction that takes the license
// lock (LicenseLockForQuota) and then decides (the query name of file),
// with the parameters in args, for the license numbered by setN.
func (r *Runner) decisionScript(setN, file, name string, args map[string]string) (string, error) {
	lock, err := r.query("quota.sql", "LicenseLockForQuota")
	if err != nil {
		return "", err
	}
	decide, err := r.query(file, name)
	if err != nil {
		return "", err
	}
	lock, err = BindParams(lock, map[string]string{"id": idSQL(licensePrefix, ":n")})
	if err != nil {
		return "", fmt.Errorf("LicenseLockForQuota: %w", err)
	}
	decide, err = BindParams(decide, args)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Sprintf("%s\nBEGIN ISOLATION LEVEL READ COMMITTED;\n%s;\n%s;\nCOMMIT;\n", setN, lock, decide), nil
}

// jobStartScript is the ceiling of POST /api/jobs/start for the licenses
// numbered lo..hi (lo == hi: one hot license).
func (r *Runner) jobStartScript(lo, hi int) (string, error) {
	return r.decisionScript(setN(lo, hi), "jobs.sql", "JobStart", map[string]string{
		"license_id":     idSQL(licensePrefix, ":n"),
		"application_id": idSQL(appPrefix, ":n"),
		"name":           "'bench'",
		"description":    "NULL",
		"metadata":       "'{}'",
	})
}

// withTokenRead puts before a decision script the read the service's
// token verification makes for every request (tokens.Service.Verify:
// LicenseGetWithEffectiveStatus, outside the decision's transaction), so
// that the ceiling runs every statement the service runs.
func (r *Runner) withTokenRead(script string) (string, error) {
	read, err := r.query("licenses.sql", "LicenseGetWithEffectiveStatus")
	if err != nil {
		return "", err
	}
	if read, err = BindParams(read, map[string]string{"id": idSQL(licensePrefix, ":n")}); err != nil {
		return "", fmt.Errorf("LicenseGetWithEffectiveStatus: %w", err)
	}
	setN, rest, _ := strings.Cut(script, "\nBEGIN ")
	return setN + "\n" + read + ";\nBEGIN " + rest, nil
}

// registerScript is the ceiling of POST /api/apps/register for license n,
// a new random name each time.
func (r *Runner) registerScript(n int) (string, error) {
	return r.decisionScript(setN(n, n)+"\n\\set r random(1, 1000000000000)", "applications.sql", "ApplicationRegister", map[string]string{
		"license_id":  idSQL(licensePrefix, ":n"),
		"name":        "'app-' || (:r)::text",
		"description": "NULL",
		"version":     "NULL",
		"metadata":    "'{}'",
	})
}

func setN(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("\\set n %d", lo)
	}
	return fmt.Sprintf("\\set n random(%d, %d)", lo, hi)
}

// explainJobStart runs the decision of fixture license n reps times under
// EXPLAIN (ANALYZE, BUFFERS), each time after the license lock and rolled
// back (the window keeps its size), and returns the statement's execution
// times and the shared buffers the last run touched. It shows what the
// statement itself costs, without the commit's fsync that dominates a
// whole decision's latency.
func (r *Runner) explainJobStart(ctx context.Context, n, reps int) ([]time.Duration, int64, error) {
	lock, err := r.query("quota.sql", "LicenseLockForQuota")
	if err != nil {
		return nil, 0, err
	}
	start, err := r.query("jobs.sql", "JobStart")
	if err != nil {
		return nil, 0, err
	}
	lit := strconv.Itoa(n)
	if lock, err = BindParams(lock, map[string]string{"id": idSQL(licensePrefix, lit)}); err != nil {
		return nil, 0, err
	}
	if start, err = BindParams(start, map[string]string{
		"license_id":     idSQL(licensePrefix, lit),
		"application_id": idSQL(appPrefix, lit),
		"name":           "'bench'",
		"description":    "NULL",
		"metadata":       "'{}'",
	}); err != nil {
		return nil, 0, err
	}
	var (
		times   []time.Duration
		buffers int64
	)
	for range reps {
		var plan []struct {
			Plan struct {
				SharedHit  int64 `json:"Shared Hit Blocks"`
				SharedRead int64 `json:"Shared Read Blocks"`
			} `json:"Plan"`
			ExecutionTime float64 `json:"Execution Time"`
		}
		err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, lock); err != nil {
				return err
			}
			var js []byte
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) "+start).Scan(&js); err != nil {
				return err
			}
			if err := json.Unmarshal(js, &plan); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			return nil, 0, fmt.Errorf("explain JobStart: %w", err)
		}
		if len(plan) != 1 {
			return nil, 0, fmt.Errorf("explain JobStart: %d plans", len(plan))
		}
		times = append(times, time.Duration(plan[0].ExecutionTime*float64(time.Millisecond)))
		buffers = plan[0].Plan.SharedHit + plan[0].Plan.SharedRead
	}
	return times, buffers, nil
}

// errRollback rolls back a transaction run with pgx.BeginFunc.
var errRollback = errors.New("rollback")
