package quota_test

import (
	"testing"

	"github.com/google/uuid"
)

// TestHourlyStartsAreTheWindowByHour checks the console's chart figures:
// each start lands in the hour it happened, counted back from now, starts
// older than 24 hours are left out, and the hours add up to the window's
// count.
func TestHourlyStartsAreTheWindowByHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 100)
	app := e.register(lic, "charted")
	for range 6 {
		e.start(lic, app.ID)
	}
	// Move the starts back in seq order (keeping seq monotone in
	// started_at): 25h ago (out of the window), 23h30m, 10h30m, 10h10m,
	// 5m ago twice.
	e.exec(`
		WITH ordered AS (
		    SELECT id, row_number() OVER (ORDER BY seq) AS n FROM jobs WHERE license_id = $1
		)
		UPDATE jobs AS j
		SET started_at = now() - (ARRAY[interval '25 hours', interval '23 hours 30 minutes',
		                                interval '10 hours 30 minutes', interval '10 hours 10 minutes',
		                                interval '5 minutes', interval '4 minutes'])[o.n]
		FROM ordered AS o
		WHERE j.id = o.id`, lic)

	hourly, err := e.svc.HourlyStarts(e.ctx, lic)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, 24)
	want[0], want[13], want[23] = 1, 2, 2
	if len(hourly) != 24 {
		t.Fatalf("%d hours, want 24", len(hourly))
	}
	var sum int64
	for i := range hourly {
		sum += hourly[i]
		if hourly[i] != want[i] {
			t.Errorf("hour %d: %d starts, want %d (all: %v)", i, hourly[i], want[i], hourly)
		}
	}
	if used := e.usedFast(lic); sum != used || used != 5 {
		t.Errorf("hours add up to %d, the window counts %d; want 5", sum, used)
	}

	usage, err := e.svc.UsageOf(e.ctx, []uuid.UUID{lic, uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 1 || usage[lic].Executions.Used != 5 || usage[lic].Apps.Used != 1 {
		t.Errorf("UsageOf: %+v", usage)
	}
	if empty, err := e.svc.HourlyStarts(e.ctx, uuid.New()); err != nil || len(empty) != 24 {
		t.Errorf("no such license: %v %v", empty, err)
	}
}
