package quota_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// heavy keeps the tests that open 64 connections from running at the same
// time (the test cluster allows 200 connections).
var heavy sync.Mutex

const clients = 64

// race runs attempts calls of fn from clients goroutines, each with its own
// connection, all released at once by a barrier, and counts the successes.
// Any error other than the expected refusal fails the test.
func race(t *testing.T, attempts int, refusal licensing.Code, fn func(i int) error) int {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
		barrier  = make(chan struct{})
		work     = make(chan int, attempts)
	)
	for i := range attempts {
		work <- i
	}
	close(work)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-barrier
			for i := range work {
				err := fn(i)
				mu.Lock()
				switch {
				case err == nil:
					admitted++
				case licensing.ErrorCode(err) != refusal:
					t.Errorf("attempt %d: %v", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	close(barrier)
	wg.Wait()
	return admitted
}

// TestConcurrentStarts: 64 clients trying 10 times the limit on one license
// admit exactly the limit, repetition after repetition.
func TestConcurrentStarts(t *testing.T) {
	heavy.Lock()
	defer heavy.Unlock()
	e := newEnvConns(t, clients)
	for rep, limit := range []int{1, 7, 50, 100, 64} {
		lic := e.license(1, limit)
		app := e.register(lic, "a")
		admitted := race(t, 10*limit, licensing.CodeQuotaExceeded, func(i int) error {
			_, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "j"})
			return err
		})
		rows := e.count("SELECT count(*) FROM jobs WHERE license_id = $1", lic)
		if admitted != limit || rows != int64(limit) {
			t.Fatalf("repetition %d: limit %d, %d admitted, %d rows", rep, limit, admitted, rows)
		}
		if gaps := e.count("SELECT max(seq) - min(seq) + 1 - count(*) FROM jobs WHERE license_id = $1", lic); gaps != 0 {
			t.Fatalf("repetition %d: the sequence has %d gaps", rep, gaps)
		}
		if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != plain || fast != int64(limit) {
			t.Fatalf("repetition %d: fast count %d, plain count %d", rep, fast, plain)
		}
	}
}

// TestConcurrentRegistrations: the same for max_apps, with distinct names.
func TestConcurrentRegistrations(t *testing.T) {
	heavy.Lock()
	defer heavy.Unlock()
	e := newEnvConns(t, clients)
	for rep, limit := range []int{1, 2, 10, 30} {
		lic := e.license(limit, 1)
		admitted := race(t, 10*limit, licensing.CodeAppLimitReached, func(i int) error {
			_, err := e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: uuid.NewString()})
			return err
		})
		rows := e.count("SELECT count(*) FROM applications WHERE license_id = $1", lic)
		if admitted != limit || rows != int64(limit) {
			t.Fatalf("repetition %d: limit %d, %d admitted, %d rows", rep, limit, admitted, rows)
		}
	}
	// One name raced by every client is registered once.
	lic := e.license(100, 1)
	admitted := race(t, 200, licensing.CodeAppNameTaken, func(int) error {
		_, err := e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "same"})
		return err
	})
	if admitted != 1 {
		t.Fatalf("one name registered %d times", admitted)
	}
}

// TestConcurrentIdempotentStarts: one key raced by every client starts one
// job; every other call replays it.
func TestConcurrentIdempotentStarts(t *testing.T) {
	heavy.Lock()
	defer heavy.Unlock()
	e := newEnvConns(t, clients)
	lic := e.license(1, 1000)
	app := e.register(lic, "a")
	var mu sync.Mutex
	bodies := map[string]int{}
	admitted := race(t, 256, "", func(int) error {
		out, err := e.svc.StartJob(e.ctx, lic, "the-key", quota.StartRequest{ApplicationID: app.ID.String(), Name: "j"})
		if err == nil {
			mu.Lock()
			var j quota.Job
			mustDecode(t, out.Body, &j)
			bodies[j.ID.String()]++
			mu.Unlock()
		}
		return err
	})
	if admitted != 256 || len(bodies) != 1 || e.usedFast(lic) != 1 {
		t.Fatalf("%d answered, %d distinct jobs, %d counted", admitted, len(bodies), e.usedFast(lic))
	}
}

// TestSuspendRacingStarts: a suspend committed while starts race wins over
// every start that had not taken the license lock before it: no job is
// numbered after the newest job the suspend saw under the lock, and every
// refusal is LICENSE_SUSPENDED.
func TestSuspendRacingStarts(t *testing.T) {
	heavy.Lock()
	defer heavy.Unlock()
	e := newEnvConns(t, clients+1)
	for rep := range 3 {
		lic := e.license(1, 100000)
		app := e.register(lic, "a")
		var lastSeen int64
		var once sync.Once
		admitted := race(t, 2000, licensing.CodeLicenseSuspended, func(i int) error {
			if i == 300 {
				once.Do(func() { lastSeen = suspend(t, e, lic) })
			}
			_, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "j"})
			return err
		})
		newest := e.count("SELECT COALESCE(max(seq), 0) FROM jobs WHERE license_id = $1", lic)
		rows := e.count("SELECT count(*) FROM jobs WHERE license_id = $1", lic)
		if newest != lastSeen || rows != int64(admitted) {
			t.Fatalf("repetition %d: suspend saw job %d under the lock; newest job is %d; %d admitted, %d rows",
				rep, lastSeen, newest, admitted, rows)
		}
	}
}

// suspend suspends the license the way an admin change does (lock, read,
// update, commit) and returns the newest job number it saw under the lock.
func suspend(t *testing.T, e *env, lic uuid.UUID) int64 {
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Error(err)
		return -1
	}
	defer tx.Rollback(e.ctx)
	var seq int64
	if _, err := tx.Exec(e.ctx, "SELECT 1 FROM licenses WHERE id = $1 FOR UPDATE", lic); err != nil {
		t.Error(err)
	}
	if err := tx.QueryRow(e.ctx, "SELECT COALESCE(max(seq), 0) FROM jobs WHERE license_id = $1", lic).Scan(&seq); err != nil {
		t.Error(err)
	}
	if _, err := tx.Exec(e.ctx, "UPDATE licenses SET status = 'SUSPENDED', updated_at = clock_timestamp() WHERE id = $1", lic); err != nil {
		t.Error(err)
	}
	if err := tx.Commit(e.ctx); err != nil {
		t.Error(err)
	}
	return seq
}
