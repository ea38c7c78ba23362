package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/postgres"
)

// seedTenants creates licenses A and B, as the owner, with two applications,
// three jobs and one idempotency key each.
func seedTenants(t *testing.T, owner *pgxpool.Pool) (a, b uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	for i, tenant := range []string{"tenant-a", "tenant-b"} {
		var id uuid.UUID
		err := owner.QueryRow(ctx, `
			WITH license AS (
			    INSERT INTO licenses (tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
			    VALUES ($1, $1, 10, 100, now() - interval '1 day', now() + interval '1 year')
			    RETURNING id
			), apps AS (
			    INSERT INTO applications (license_id, name)
			    SELECT license.id, 'app-' || n FROM license, generate_series(1, 2) AS n
			    RETURNING id, license_id
			), one_app AS (
			    SELECT id, license_id FROM apps LIMIT 1
			), jobs AS (
			    INSERT INTO jobs (license_id, application_id, seq, name, started_at)
			    SELECT one_app.license_id, one_app.id, n, 'job-' || n, clock_timestamp()
			    FROM one_app, generate_series(1, 3) AS n
			), keys AS (
			    INSERT INTO idempotency_keys (license_id, key, request_hash, response_status, response_body)
			    SELECT license.id, 'key', sha256('x'), 201, '{}' FROM license
			)
			SELECT id FROM license`, tenant).Scan(&id)
		if err != nil {
			t.Fatalf("seed %s: %v", tenant, err)
		}
		if i == 0 {
			a = id
		} else {
			b = id
		}
	}
	return a, b
}

// TestRowLevelSecurity runs queries that forget their license filter as the
// service role (licensing_app, through the pool the service uses) and shows
// that they still see, change and delete only the rows of the license the
// transaction works for, and nothing at all outside such a transaction.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	owner, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	a, b := seedTenants(t, owner)
	svc, err := postgres.NewPool(ctx, url, postgres.PoolConfig{MaxConns: 2, Role: "licensing_app"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var who string
	if err := svc.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "licensing_app" {
		t.Fatalf("current_user %q (%v)", who, err)
	}

	counts := func(q db.DBTX) (apps, jobs, keys, usage int) {
		t.Helper()
		err := q.QueryRow(ctx, `SELECT
		    (SELECT count(*) FROM applications),
		    (SELECT count(*) FROM jobs),
		    (SELECT count(*) FROM idempotency_keys),
		    (SELECT count(*) FROM license_usage WHERE apps_used > 0)`).Scan(&apps, &jobs, &keys, &usage)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if apps, jobs, keys, usage := counts(owner); apps != 4 || jobs != 6 || keys != 2 || usage != 2 {
		t.Fatalf("the owner sees %d apps, %d jobs, %d keys, %d usages; want 4, 6, 2, 2", apps, jobs, keys, usage)
	}
	if apps, jobs, keys, usage := counts(svc); apps+jobs+keys+usage != 0 {
		t.Fatalf("outside a license transaction the service sees %d apps, %d jobs, %d keys, %d usages", apps, jobs, keys, usage)
	}
	// Inside A's transaction: A's rows only, whatever the query says.
	tx, err := svc.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; SELECT set_config('licensing.license_id', '" + a.String() + "', true)"})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if apps, jobs, keys, usage := counts(tx); apps != 2 || jobs != 3 || keys != 1 || usage != 1 {
		t.Fatalf("A's transaction sees %d apps, %d jobs, %d keys, %d usages; want 2, 3, 1, 1", apps, jobs, keys, usage)
	}
	for _, stmt := range []string{
		"UPDATE applications SET description = 'hacked' WHERE license_id = $1",
		"DELETE FROM jobs WHERE license_id = $1",
		"DELETE FROM idempotency_keys WHERE license_id = $1",
	} {
		tag, err := tx.Exec(ctx, stmt, b)
		if err != nil || tag.RowsAffected() != 0 {
			t.Fatalf("%s for B from A's transaction: %v rows, %v", stmt, tag.RowsAffected(), err)
		}
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT s; INSERT INTO applications (license_id, name) VALUES ('"+b.String()+"', 'planted')"); err == nil {
		t.Fatal("A's transaction inserted an application for B")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if apps, jobs, keys, _ := counts(owner); apps != 4 || jobs != 6 || keys != 2 {
		t.Fatalf("B's rows changed: %d apps, %d jobs, %d keys", apps, jobs, keys)
	}

	// WithLicenseTx is the way the service opens such a transaction: in
	// B's, the usage of B counts B's rows and the usage of A counts none.
	err = postgres.WithLicenseTx(ctx, svc, b, func(q *db.Queries) error {
		own, err := q.LicenseUsageGet(ctx, b)
		if err != nil {
			return err
		}
		other, err := q.LicenseUsageGet(ctx, a)
		if err != nil {
			return err
		}
		if own.AppsUsed != 2 || own.ExecutionsUsed != 3 || other.AppsUsed != 0 || other.ExecutionsUsed != 0 {
			t.Errorf("in B's transaction: B uses %d apps, %d executions; A %d, %d", own.AppsUsed, own.ExecutionsUsed, other.AppsUsed, other.ExecutionsUsed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Pruning works across licenses, through its SECURITY DEFINER function.
	if _, err := db.New(svc).JobsPrune(ctx); err != nil {
		t.Fatalf("prune as the service role: %v", err)
	}
}

// TestServiceRoleCannotChangeTheSchema checks that the service role has row
// rights only: no DDL, no TRUNCATE, no rewriting of the audit trail.
func TestServiceRoleCannotChangeTheSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	svc, err := postgres.NewPool(ctx, url, postgres.PoolConfig{MaxConns: 1, Role: "licensing_app"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, stmt := range []string{
		"CREATE TABLE intruder (id int)",
		"ALTER TABLE licenses ADD COLUMN intruder int",
		"DROP TABLE jobs",
		"TRUNCATE licenses",
		"ALTER TABLE jobs DISABLE ROW LEVEL SECURITY",
		"DROP POLICY jobs_of_current_license ON jobs",
		"CREATE INDEX intruder_idx ON licenses (tenant_name)",
		"UPDATE license_events SET reason = 'rewritten'",
		"DELETE FROM license_events",
		"DELETE FROM schema_migrations",
		"CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
	} {
		_, err := svc.Exec(ctx, stmt)
		if err == nil {
			t.Errorf("the service role may %s", stmt)
			continue
		}
		if st := postgres.SQLState(err); st != "42501" && st != "42883" {
			t.Errorf("%s: %v (SQLSTATE %s), want insufficient_privilege", stmt, err, st)
		}
		if licensing.ErrorCode(postgres.Translate(err)) == "" {
			t.Errorf("%s: no error code", stmt)
		}
	}
}
