package quota_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/quota"
)

// TestCronSchedule migrates the database pg_cron serves and finds the prune
// job scheduled there; in any other database the migration does nothing
// and the server prunes itself. It is the only test of this process that
// uses pgtest.CronDatabase.
func TestCronSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var cronDB *string
	if err := admin.QueryRow(ctx, "SELECT current_setting('cron.database_name', true)").Scan(&cronDB); err != nil {
		t.Fatal(err)
	}
	if cronDB == nil || *cronDB != pgtest.CronDatabase {
		t.Skipf("pg_cron is not preloaded for %s in the test cluster (cron.database_name = %v); install postgresql-15-cron (make deps)", pgtest.CronDatabase, cronDB)
	}

	// Elsewhere: no pg_cron, so the server prunes.
	e := newEnv(t)
	if scheduled, err := e.svc.CronScheduled(ctx); err != nil || scheduled {
		t.Fatalf("an ordinary database reports pg_cron scheduling: %v %v", scheduled, err)
	}
	if _, err := e.svc.PruneUnlessScheduled(ctx); err != nil {
		t.Fatalf("the server's pruner: %v", err)
	}

	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgtest.CronDatabase+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgtest.CronDatabase); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgtest.CronDatabase+" WITH (FORCE)")
		}
	})
	url := pgtest.URL(pgtest.CronDatabase)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var schedule, command string
	if err := pool.QueryRow(ctx, "SELECT schedule, command FROM cron.job WHERE jobname = $1", quota.CronJobName).Scan(&schedule, &command); err != nil {
		t.Fatalf("the prune job is not in cron.job: %v", err)
	}
	if schedule != "*/10 * * * *" || command != "SELECT licensing_prune_jobs()" {
		t.Fatalf("cron job %q %q", schedule, command)
	}
	svc := quota.New(pool, slog.New(slog.DiscardHandler))
	if scheduled, err := svc.CronScheduled(ctx); err != nil || !scheduled {
		t.Fatalf("CronScheduled = %v, %v", scheduled, err)
	}
	// The server's pruner leaves this database to pg_cron.
	if _, err := svc.PruneUnlessScheduled(ctx); !errors.Is(err, quota.ErrPruneScheduled) {
		t.Fatalf("the server pruned a database pg_cron prunes: %v", err)
	}
	// Down removes the job and keeps the extension; up schedules it again.
	// Down to 000002 (later migrations come off first).
	if v, _, err := migrations.Version(url); err != nil {
		t.Fatal(err)
	} else if err := migrations.Down(url, int(v)-2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM cron.job WHERE jobname = $1", quota.CronJobName).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after down: %d jobs, %v", n, err)
	}
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM cron.job WHERE jobname = $1", quota.CronJobName).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after up again: %d jobs, %v", n, err)
	}
}
