package quota

import (
	"context"
	"errors"
	"time"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/postgres"
)

// CronJobName is the pg_cron job that migration 000003 schedules.
const CronJobName = "licensing-prune-jobs"

// ErrPruneBusy is returned by Prune when another session is pruning.
var ErrPruneBusy = errors.New("quota: another session is pruning")

// Prune runs licensing_prune_jobs() once under a transaction-scoped advisory
// lock, so replicas do not prune at the same moment, and returns the number
// of jobs deleted. It returns ErrPruneBusy when the lock is taken.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	var deleted int64
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		locked, err := q.JobsPruneTryLock(ctx)
		if err != nil {
			return err
		}
		if !locked {
			return ErrPruneBusy
		}
		deleted, err = q.JobsPrune(ctx)
		return err
	})
	if errors.Is(err, ErrPruneBusy) {
		return 0, ErrPruneBusy
	}
	if err == nil {
		s.pruned.Add(float64(deleted))
	}
	return deleted, err
}

// CronScheduled reports whether pg_cron runs the prune job for this
// database. cron.job only exists in the database pg_cron serves, so it is
// looked up by name before it is read (sqlc does not know that schema).
func (s *Service) CronScheduled(ctx context.Context) (bool, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('cron.job') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return false, err
	}
	var scheduled bool
	err := s.pool.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND database = current_database() AND active)",
		CronJobName).Scan(&scheduled)
	return scheduled, err
}

// RunPruner prunes every interval until ctx ends, unless pg_cron runs the
// prune job for this database (checked at each tick, so a schedule added or
// removed later is honoured).
func (s *Service) RunPruner(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.PruneUnlessScheduled(ctx)
		switch {
		case errors.Is(err, ErrPruneBusy), errors.Is(err, ErrPruneScheduled), ctx.Err() != nil:
		case err != nil:
			s.log.WarnContext(ctx, "pruner: prune failed", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "pruner: pruned old jobs", "deleted", n)
		}
	}
}

// ErrPruneScheduled is returned by PruneUnlessScheduled when pg_cron runs
// the prune job for this database.
var ErrPruneScheduled = errors.New("quota: pg_cron prunes this database")

// PruneUnlessScheduled is one tick of the pruner: Prune, unless pg_cron runs
// the prune job for this database (ErrPruneScheduled). When the schedule
// cannot be read it prunes anyway: pruning twice is harmless.
func (s *Service) PruneUnlessScheduled(ctx context.Context) (int64, error) {
	scheduled, err := s.CronScheduled(ctx)
	if err != nil {
		s.log.DebugContext(ctx, "pruner: could not read the pg_cron schedule; pruning here", "err", err)
	} else if scheduled {
		return 0, ErrPruneScheduled
	}
	return s.Prune(ctx)
}
