package quota_test

import (
	"errors"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// spread moves a license's jobs back in time, keeping their order: the job
// numbered seq is moved to base + seq*step. Tests move the clock this way
// instead of sleeping.
func (e *env) spread(lic any, base time.Time, step time.Duration) {
	e.t.Helper()
	e.exec(`UPDATE jobs SET started_at = $2::timestamptz + seq * $3::interval WHERE license_id = $1`,
		lic, base, step)
}

// TestWindowSlides: executions older than 24 hours stop counting, the next
// slot is when the oldest counted execution leaves, and the fast count
// equals the plain COUNT at every step.
func TestWindowSlides(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 10)
	app := e.register(lic, "a")
	for range 10 {
		e.start(lic, app.ID)
	}
	now := time.Now()
	// Job n started 24h + 30min - n*10min ago: jobs 1..3 are out of the
	// window (24h20m, 24h10m, 24h00m ago), 4..10 are in.
	e.spread(lic, now.Add(-24*time.Hour-30*time.Minute), 10*time.Minute)
	if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != 7 || plain != 7 {
		t.Fatalf("fast %d plain %d, want 7", fast, plain)
	}
	for range 3 {
		e.start(lic, app.ID)
	}
	_, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "j"})
	le := wantCode(t, err, licensing.CodeQuotaExceeded)
	// The oldest counted execution is job 4, started 23h50m ago: it leaves
	// the window 10 minutes from now.
	var job4 time.Time
	if err := e.pool.QueryRow(e.ctx, "SELECT started_at FROM jobs WHERE license_id = $1 AND seq = 4", lic).Scan(&job4); err != nil {
		t.Fatal(err)
	}
	next := le.Extra["next_slot_at"].(time.Time)
	if !next.Equal(job4.Add(24 * time.Hour)) {
		t.Fatalf("next_slot_at %v, want %v", next, job4.Add(24*time.Hour))
	}
	wantRetry := int64(job4.Add(24 * time.Hour).Sub(now).Seconds())
	if d := le.RetryAfterSeconds - wantRetry; d < -5 || d > 5 {
		t.Fatalf("Retry-After %d, want about %d", le.RetryAfterSeconds, wantRetry)
	}
	u, err := e.svc.Usage(e.ctx, lic)
	if err != nil || u.Executions.Used != 10 || u.Executions.Remaining != 0 || u.Executions.NextSlotAt == nil || !u.Executions.NextSlotAt.Equal(next) {
		t.Fatalf("usage %+v %v", u, err)
	}

	// Everything out of the window: nothing counts, the newest job included.
	e.spread(lic, now.Add(-48*time.Hour), time.Second)
	if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != 0 || plain != 0 {
		t.Fatalf("fast %d plain %d, want 0", fast, plain)
	}
	u, _ = e.svc.Usage(e.ctx, lic)
	if u.Executions.NextSlotAt != nil || u.Executions.Remaining != 10 {
		t.Fatalf("empty window usage %+v", u.Executions)
	}
	e.start(lic, app.ID)
	if got := e.count("SELECT max(seq) FROM jobs WHERE license_id = $1", lic); got != 14 {
		t.Fatalf("the sequence restarted: newest %d", got)
	}
}

// TestWindowEdge: a job started exactly 24 hours before the decision no
// longer counts (the window is started_at > t - 24h); ties in started_at
// are counted together.
func TestWindowEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 3)
	app := e.register(lic, "a")
	for range 3 {
		e.start(lic, app.ID)
	}
	// All three at the same instant, 23 hours ago: three count.
	e.exec("UPDATE jobs SET started_at = now() - interval '23 hours' WHERE license_id = $1", lic)
	if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != 3 || plain != 3 {
		t.Fatalf("ties: fast %d plain %d", fast, plain)
	}
	_, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "j"})
	le := wantCode(t, err, licensing.CodeQuotaExceeded)
	if d := le.RetryAfterSeconds - 3600; d < -5 || d > 1 {
		t.Fatalf("Retry-After %d, want about 3600", le.RetryAfterSeconds)
	}
	// The first two exactly 24 hours before now() (one transaction, so one
	// now()): out. The third a microsecond later: in.
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	if _, err := tx.Exec(e.ctx, `UPDATE jobs SET started_at = now() - interval '24 hours' + CASE WHEN seq = 3 THEN interval '1 microsecond' ELSE interval '0' END
		WHERE license_id = $1`, lic); err != nil {
		t.Fatal(err)
	}
	var fast, plain int64
	if err := tx.QueryRow(e.ctx, `SELECT u.executions_used, p.used FROM license_usage u JOIN license_window_plain_count p USING (license_id)
		WHERE license_id = $1`, lic).Scan(&fast, &plain); err != nil {
		t.Fatal(err)
	}
	if fast != 1 || plain != 1 {
		t.Fatalf("edge: fast %d plain %d, want 1", fast, plain)
	}
}

// TestFastCountMatchesPlainCount compares the two counts over many shapes
// of history, for several licenses at once.
func TestFastCountMatchesPlainCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type lic struct {
		id   any
		jobs int
	}
	var lics []lic
	for _, n := range []int{0, 1, 2, 5, 40} {
		l := e.license(1, 1000)
		app := e.register(l, "a")
		for range n {
			e.start(l, app.ID)
		}
		lics = append(lics, lic{l, n})
	}
	now := time.Now()
	for _, shift := range []time.Duration{0, 23 * time.Hour, 24 * time.Hour, 25 * time.Hour, 30 * time.Hour} {
		for _, step := range []time.Duration{0, time.Second, 7 * time.Minute, time.Hour} {
			for _, l := range lics {
				e.spread(l.id, now.Add(-shift), step)
			}
			diff := e.count(`SELECT count(*) FROM license_usage u JOIN license_window_plain_count p USING (license_id)
				WHERE u.executions_used <> p.used`)
			if diff != 0 {
				t.Fatalf("shift %v step %v: %d licenses where the counts differ", shift, step, diff)
			}
		}
	}
}

// TestClockBehind: when the clock is behind the newest start (a clock
// step back), a new start is stamped no earlier than it, keeping seq and
// started_at in the same order.
func TestClockBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 10)
	app := e.register(lic, "a")
	e.start(lic, app.ID)
	e.exec("UPDATE jobs SET started_at = now() + interval '1 hour' WHERE license_id = $1", lic)
	j := e.start(lic, app.ID)
	var first time.Time
	if err := e.pool.QueryRow(e.ctx, "SELECT started_at FROM jobs WHERE license_id = $1 AND seq = 1", lic).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if j.StartedAt.Before(first) {
		t.Fatalf("second start %v before the first %v", j.StartedAt, first)
	}
	if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != 2 || plain != 2 {
		t.Fatalf("fast %d plain %d", fast, plain)
	}
}

// TestPrune: jobs older than the retention go, except each license's
// newest; nothing inside the window is touched; expired idempotency keys go.
func TestPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	busy := e.license(1, 100)
	idle := e.license(1, 100)
	ba, ia := e.register(busy, "a"), e.register(idle, "a")
	for range 20 {
		e.start(busy, ba.ID)
	}
	for range 3 {
		e.start(idle, ia.ID)
	}
	now := time.Now()
	// busy: jobs 1..10 are 8 to 9 days old; 11..20 within the last day.
	e.exec(`UPDATE jobs SET started_at = $2::timestamptz - interval '9 days' + seq * interval '1 hour'
		WHERE license_id = $1 AND seq <= 10`, busy, now)
	e.exec(`UPDATE jobs SET started_at = $2::timestamptz - interval '23 hours' + seq * interval '1 minute'
		WHERE license_id = $1 AND seq > 10`, busy, now)
	// idle: every job 30 days old.
	e.spread(idle, now.Add(-30*24*time.Hour), time.Minute)
	e.exec(`INSERT INTO idempotency_keys (license_id, key, request_hash, response_status, response_body, created_at)
		VALUES ($1, 'old', sha256('x'), 201, '{}', now() - interval '25 hours'),
		       ($1, 'new', sha256('y'), 201, '{}', now() - interval '23 hours')`, busy)
	before := e.usedPlain(busy)

	n, err := e.svc.Prune(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Fatalf("pruned %d jobs, want 10 + 2", n)
	}
	if got := e.count("SELECT count(*) FROM jobs WHERE license_id = $1", busy); got != 10 {
		t.Fatalf("busy keeps %d jobs", got)
	}
	if got := e.count("SELECT seq FROM jobs WHERE license_id = $1", idle); got != 3 {
		t.Fatalf("idle keeps job %d, want its newest (3)", got)
	}
	if after := e.usedPlain(busy); after != before || e.usedFast(busy) != before {
		t.Fatalf("window changed from %d to %d", before, after)
	}
	if got := e.count("SELECT count(*) FROM idempotency_keys WHERE license_id = $1", busy); got != 1 {
		t.Fatalf("%d idempotency keys left, want the fresh one", got)
	}
	// A shorter retention prunes more, but never inside 24 hours.
	e.exec("UPDATE settings SET job_retention = interval '24 hours'")
	e.exec(`UPDATE jobs SET started_at = now() - interval '23 hours 59 minutes' WHERE license_id = $1`, idle)
	if n, err := e.svc.Prune(e.ctx); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
	if _, err := e.pool.Exec(e.ctx, "UPDATE settings SET job_retention = interval '23 hours'"); err == nil {
		t.Fatal("a retention under 24 hours was accepted")
	}
	// Replicas take turns: while another session holds the prune lock,
	// Prune does nothing and says so.
	holder, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(e.ctx, "SELECT pg_advisory_xact_lock(hashtext('licensing-prune-jobs'))"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Prune(e.ctx); !errors.Is(err, quota.ErrPruneBusy) {
		t.Fatalf("prune while another session prunes: %v", err)
	}
	_ = holder.Rollback(e.ctx)
	if _, err := e.svc.Prune(e.ctx); err != nil {
		t.Fatalf("prune after the other session: %v", err)
	}
	// The busy license continues its sequence after pruning.
	if j := e.start(busy, ba.ID); j.ID.String() == "" {
		t.Fatal("no job")
	}
	if got := e.count("SELECT max(seq) FROM jobs WHERE license_id = $1", busy); got != 21 {
		t.Fatalf("newest seq %d after prune, want 21", got)
	}
}
