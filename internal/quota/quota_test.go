package quota_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// TestRegisterLimit is the apps half of the challenge: two registrations
// pass, the third is refused with the facts; a taken name is a conflict; a
// deletion frees a slot and the name.
func TestRegisterLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(2, 100)

	a := e.register(lic, "alpha")
	if !a.IsActive || a.LicenseID != lic || a.Name != "alpha" || string(a.Metadata) != "{}" {
		t.Fatalf("registered %+v", a)
	}
	out, err := e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "alpha"})
	wantCode(t, err, licensing.CodeAppNameTaken)
	if out.Limit == nil || out.Limit.Policy != "apps" || out.Limit.Remaining != 1 {
		t.Fatalf("limit on a name conflict: %+v", out.Limit)
	}
	out, err = e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "beta", Metadata: json.RawMessage(`{"b": 2, "a": [1, "x"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 201 || out.Limit.Quota != 2 || out.Limit.Remaining != 0 {
		t.Fatalf("second registration: %d %+v", out.Status, out.Limit)
	}
	_, err = e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "gamma"})
	le := wantCode(t, err, licensing.CodeAppLimitReached)
	if le.Extra["max_apps"] != int32(2) || le.Extra["current_count"] != int64(2) {
		t.Fatalf("refusal facts: %v", le.Extra)
	}

	if err := e.svc.DeleteApp(e.ctx, lic, a.ID); err != nil {
		t.Fatal(err)
	}
	// Deleting again changes nothing and is not an error.
	if err := e.svc.DeleteApp(e.ctx, lic, a.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GetApp(e.ctx, lic, a.ID)
	if err != nil || got.IsActive || got.DeletedAt == nil {
		t.Fatalf("deleted app: %+v %v", got, err)
	}
	e.register(lic, "alpha") // the name and the slot are free again
	_, err = e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "gamma"})
	wantCode(t, err, licensing.CodeAppLimitReached)

	list, err := e.svc.ListApps(e.ctx, lic, quota.AppListOptions{})
	if err != nil || len(list.Items) != 2 || list.NextCursor != nil {
		t.Fatalf("list: %+v %v", list, err)
	}
	all, err := e.svc.ListApps(e.ctx, lic, quota.AppListOptions{IncludeDeleted: true, Limit: 2})
	if err != nil || len(all.Items) != 2 || all.NextCursor == nil {
		t.Fatalf("page 1: %+v %v", all, err)
	}
	rest, err := e.svc.ListApps(e.ctx, lic, quota.AppListOptions{IncludeDeleted: true, Limit: 2, Cursor: *all.NextCursor})
	if err != nil || len(rest.Items) != 1 || rest.NextCursor != nil {
		t.Fatalf("page 2: %+v %v", rest, err)
	}
	if err := e.svc.DeleteApp(e.ctx, lic, uuid.New()); licensing.ErrorCode(err) != licensing.CodeAppNotFound {
		t.Fatalf("delete unknown: %v", err)
	}
}

// TestRegisterValidation refuses bad bodies with per-field detail.
func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(5, 5)
	cases := []quota.RegisterRequest{
		{Name: ""},
		{Name: "   "},
		{Name: "a\x00b"},
		{Name: strings.Repeat("é", 256)},
		{Name: "ok", Metadata: json.RawMessage(`[1,2]`)},
		{Name: "ok", Metadata: json.RawMessage(`{"a":"\u0000"}`)},
	}
	for _, c := range cases {
		if _, err := e.svc.RegisterApp(e.ctx, lic, "", c); licensing.ErrorCode(err) != licensing.CodeValidation {
			t.Errorf("register %+v: %v, want VALIDATION_FAILED", c, err)
		}
	}
	if _, err := e.svc.RegisterApp(e.ctx, lic, "bad\nkey", quota.RegisterRequest{Name: "ok"}); licensing.ErrorCode(err) != licensing.CodeValidation {
		t.Errorf("bad Idempotency-Key: %v", err)
	}
	if n := e.count("SELECT count(*) FROM applications"); n != 0 {
		t.Fatalf("%d applications stored", n)
	}
}

// TestStartLimit is the executions half of the challenge: 100 starts pass,
// the 101st is refused with exact facts; finishing works.
func TestStartLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(2, 100)
	app := e.register(lic, "worker")

	var first quota.Job
	for i := range 100 {
		out, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "job"})
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		if out.Limit.Remaining != int64(99-i) || out.Limit.Quota != 100 || out.Limit.Window != 86400 {
			t.Fatalf("start %d: limit %+v", i+1, out.Limit)
		}
		if i == 0 {
			mustDecode(t, out.Body, &first)
			if first.Status != "RUNNING" || first.FinishedAt != nil || first.ApplicationID != app.ID {
				t.Fatalf("first job %+v", first)
			}
		}
		if i == 99 {
			// The last slot used: t says when the first start leaves the window.
			if out.Limit.Reset < 86390 || out.Limit.Reset > 86400 {
				t.Fatalf("reset after the 100th start: %d", out.Limit.Reset)
			}
		}
	}
	out, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "job"})
	le := wantCode(t, err, licensing.CodeQuotaExceeded)
	if le.Extra["current_count"] != int64(100) || le.Extra["max_executions_per_24h"] != int32(100) {
		t.Fatalf("refusal facts %v", le.Extra)
	}
	next, _ := le.Extra["next_slot_at"].(time.Time)
	if !next.Equal(first.StartedAt.Add(24 * time.Hour)) {
		t.Fatalf("next_slot_at %v, want the first start %v + 24h", le.Extra["next_slot_at"], first.StartedAt)
	}
	if le.RetryAfterSeconds < 86390 || le.RetryAfterSeconds > 86400 || le.Extra["retry_after_seconds"] != le.RetryAfterSeconds {
		t.Fatalf("retry after %d (%v)", le.RetryAfterSeconds, le.Extra["retry_after_seconds"])
	}
	if out.Limit == nil || out.Limit.Remaining != 0 || out.Limit.Reset != le.RetryAfterSeconds {
		t.Fatalf("limit on refusal %+v", out.Limit)
	}
	if n := e.count("SELECT count(*) FROM jobs WHERE license_id = $1", lic); n != 100 {
		t.Fatalf("%d jobs stored", n)
	}
	if fast, plain := e.usedFast(lic), e.usedPlain(lic); fast != 100 || plain != 100 {
		t.Fatalf("fast %d plain %d", fast, plain)
	}

	fin, err := e.svc.FinishJob(e.ctx, lic, "", quota.FinishRequest{JobID: first.ID.String(), Result: json.RawMessage(`{"rows": 3}`), CPUUsage: ptr(12.5), MemoryUsage: ptr(256.0)})
	if err != nil {
		t.Fatal(err)
	}
	var done quota.Job
	mustDecode(t, fin.Body, &done)
	if fin.Status != 200 || done.Status != "COMPLETED" || done.FinishedAt == nil || done.ExecutionTime == nil ||
		*done.ExecutionTime < 0 || string(done.Result) != `{"rows":3}` || *done.CPUUsage != 12.5 {
		t.Fatalf("finished %+v", done)
	}
	// A finished job still counts: the window counts starts.
	_, err = e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "job"})
	wantCode(t, err, licensing.CodeQuotaExceeded)
}

func ptr[T any](v T) *T { return &v }

// TestStartRefusals: unknown, deleted and malformed applications; a limit
// of 0; a license that may not operate.
func TestStartRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(2, 3)
	app := e.register(lic, "a")
	start := func(l uuid.UUID, appID string) error {
		_, err := e.svc.StartJob(e.ctx, l, "", quota.StartRequest{ApplicationID: appID, Name: "job"})
		return err
	}
	wantCode(t, start(lic, uuid.NewString()), licensing.CodeAppNotFound)
	wantCode(t, start(lic, "not-a-uuid"), licensing.CodeValidation)
	wantCode(t, start(lic, ""), licensing.CodeValidation)
	if _, err := e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: app.ID.String()}); licensing.ErrorCode(err) != licensing.CodeValidation {
		t.Fatalf("no name: %v", err)
	}
	if err := e.svc.DeleteApp(e.ctx, lic, app.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, start(lic, app.ID.String()), licensing.CodeAppNotFound)

	zero := e.license(1, 0)
	zapp := e.register(zero, "z")
	le := wantCode(t, start(zero, zapp.ID.String()), licensing.CodeQuotaExceeded)
	if le.RetryAfterSeconds != 86400 || le.Extra["next_slot_at"] != nil {
		t.Fatalf("limit 0: %d %v", le.RetryAfterSeconds, le.Extra)
	}

	for status, code := range map[string]licensing.Code{
		"suspended": licensing.CodeLicenseSuspended,
		"revoked":   licensing.CodeLicenseRevoked,
		"expired":   licensing.CodeLicenseExpired,
		"future":    licensing.CodeLicenseNotYetValid,
	} {
		l := e.license(2, 2)
		a := e.register(l, "a")
		j := e.start(l, a.ID)
		switch status {
		case "suspended":
			e.exec("UPDATE licenses SET status = 'SUSPENDED' WHERE id = $1", l)
		case "revoked":
			e.exec("UPDATE licenses SET status = 'REVOKED' WHERE id = $1", l)
		case "expired":
			e.exec("UPDATE licenses SET valid_from = now() - interval '2 days', valid_to = now() - interval '1 second' WHERE id = $1", l)
		case "future":
			e.exec("UPDATE licenses SET valid_from = now() + interval '1 day', valid_to = now() + interval '2 days' WHERE id = $1", l)
		}
		wantCode(t, start(l, a.ID.String()), code)
		_, err := e.svc.RegisterApp(e.ctx, l, "", quota.RegisterRequest{Name: "b"})
		wantCode(t, err, code)
		_, err = e.svc.FinishJob(e.ctx, l, "", quota.FinishRequest{JobID: j.ID.String()})
		wantCode(t, err, code)
		wantCode(t, e.svc.DeleteApp(e.ctx, l, a.ID), code)
	}
	if _, err := e.svc.StartJob(e.ctx, uuid.New(), "", quota.StartRequest{ApplicationID: app.ID.String(), Name: "x"}); licensing.ErrorCode(err) != licensing.CodeLicenseNotFound {
		t.Fatalf("unknown license: %v", err)
	}
}

// TestFinish: repeated finishes answer the same job, another outcome is a
// conflict, unknown jobs are 404, bad values are refused.
func TestFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(1, 10)
	app := e.register(lic, "a")
	job := e.start(lic, app.ID)

	req := quota.FinishRequest{JobID: job.ID.String(), Status: "FAILED", ErrorMessage: ptr("disk full"), Result: json.RawMessage(`{"b":1,"a":2}`)}
	first, err := e.svc.FinishJob(e.ctx, lic, "", req)
	if err != nil {
		t.Fatal(err)
	}
	// The same outcome (keys in another order are the same JSON) again.
	req.Result = json.RawMessage(`{"a":2, "b":1}`)
	again, err := e.svc.FinishJob(e.ctx, lic, "", req)
	if err != nil {
		t.Fatal(err)
	}
	var j1, j2 quota.Job
	mustDecode(t, first.Body, &j1)
	mustDecode(t, again.Body, &j2)
	if j1.Status != "FAILED" || !j1.FinishedAt.Equal(*j2.FinishedAt) || *j2.ErrorMessage != "disk full" {
		t.Fatalf("repeat gave %+v then %+v", j1, j2)
	}
	for _, other := range []quota.FinishRequest{
		{JobID: job.ID.String()}, // COMPLETED
		{JobID: job.ID.String(), Status: "FAILED", ErrorMessage: ptr("other")},
		{JobID: job.ID.String(), Status: "FAILED", ErrorMessage: ptr("disk full"), Result: json.RawMessage(`{"a":2}`)},
	} {
		_, err := e.svc.FinishJob(e.ctx, lic, "", other)
		le := wantCode(t, err, licensing.CodeJobNotRunning)
		if le.Extra["job_status"] != "FAILED" {
			t.Fatalf("conflict facts %v", le.Extra)
		}
	}
	_, err = e.svc.FinishJob(e.ctx, lic, "", quota.FinishRequest{JobID: uuid.NewString()})
	wantCode(t, err, licensing.CodeJobNotFound)
	for _, bad := range []quota.FinishRequest{
		{JobID: "x"},
		{JobID: job.ID.String(), Status: "DONE"},
		{JobID: job.ID.String(), CPUUsage: ptr(100.5)},
		{JobID: job.ID.String(), CPUUsage: ptr(-1.0)},
		{JobID: job.ID.String(), MemoryUsage: ptr(-1.0)},
		{JobID: job.ID.String(), Result: json.RawMessage(`"\u0000"`)},
	} {
		_, err := e.svc.FinishJob(e.ctx, lic, "", bad)
		wantCode(t, err, licensing.CodeValidation)
	}
	// Any JSON is a result: a string, a number, an array.
	for _, r := range []string{`"ok"`, `42`, `[1,{"x":null}]`} {
		j := e.start(lic, app.ID)
		out, err := e.svc.FinishJob(e.ctx, lic, "", quota.FinishRequest{JobID: j.ID.String(), Result: json.RawMessage(r)})
		if err != nil {
			t.Fatal(err)
		}
		var got quota.Job
		mustDecode(t, out.Body, &got)
		if string(got.Result) != r {
			t.Fatalf("result %s, want %s", got.Result, r)
		}
	}
	got, err := e.svc.GetJob(e.ctx, lic, job.ID)
	if err != nil || got.Status != "FAILED" {
		t.Fatalf("get: %+v %v", got, err)
	}
}

// TestIsolation: a license sees, starts on and finishes only its own.
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.license(2, 10), e.license(2, 10)
	appB := e.register(b, "shared-name")
	e.register(a, "shared-name") // names are per license
	jobB := e.start(b, appB.ID)

	if _, err := e.svc.GetApp(e.ctx, a, appB.ID); licensing.ErrorCode(err) != licensing.CodeAppNotFound {
		t.Fatalf("get B's app as A: %v", err)
	}
	if _, err := e.svc.GetJob(e.ctx, a, jobB.ID); licensing.ErrorCode(err) != licensing.CodeJobNotFound {
		t.Fatalf("get B's job as A: %v", err)
	}
	_, err := e.svc.StartJob(e.ctx, a, "", quota.StartRequest{ApplicationID: appB.ID.String(), Name: "x"})
	wantCode(t, err, licensing.CodeAppNotFound)
	_, err = e.svc.FinishJob(e.ctx, a, "", quota.FinishRequest{JobID: jobB.ID.String()})
	wantCode(t, err, licensing.CodeJobNotFound)
	wantCode(t, e.svc.DeleteApp(e.ctx, a, appB.ID), licensing.CodeAppNotFound)
	jobs, err := e.svc.ListJobs(e.ctx, a, quota.JobListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Fatalf("A's jobs: %+v %v", jobs, err)
	}
	if got, err := e.svc.GetJob(e.ctx, b, jobB.ID); err != nil || got.Status != "RUNNING" {
		t.Fatalf("B's job changed: %+v %v", got, err)
	}
}

// TestIdempotency: the same key and body replay the stored response and
// count nothing again; another body is refused; keys are per license.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(2, 5)
	other := e.license(2, 5)

	reg := quota.RegisterRequest{Name: "app", Metadata: json.RawMessage(`{"x": 1, "y": 2}`)}
	o1, err := e.svc.RegisterApp(e.ctx, lic, "reg-1", reg)
	if err != nil {
		t.Fatal(err)
	}
	reg.Metadata = json.RawMessage(`{"y":2,"x":1}`) // the same body, written differently
	o2, err := e.svc.RegisterApp(e.ctx, lic, "reg-1", reg)
	if err != nil || !o2.Replayed || o2.Status != 201 || o2.Limit == nil || o2.Limit.Policy != "apps" || o2.Limit.Remaining != 1 {
		t.Fatalf("replay: %+v %v", o2, err)
	}
	assertSameJSON(t, o1.Body, o2.Body)
	if n := e.count("SELECT count(*) FROM applications WHERE license_id = $1", lic); n != 1 {
		t.Fatalf("%d applications after a replay", n)
	}
	_, err = e.svc.RegisterApp(e.ctx, lic, "reg-1", quota.RegisterRequest{Name: "another"})
	wantCode(t, err, licensing.CodeIdempotencyReused)
	// Another license may use the same key.
	if o, err := e.svc.RegisterApp(e.ctx, other, "reg-1", quota.RegisterRequest{Name: "app"}); err != nil || o.Replayed {
		t.Fatalf("other license: %+v %v", o, err)
	}

	var app quota.Application
	mustDecode(t, o1.Body, &app)
	start := quota.StartRequest{ApplicationID: app.ID.String(), Name: "nightly"}
	s1, err := e.svc.StartJob(e.ctx, lic, "start-1", start)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err := e.svc.StartJob(e.ctx, lic, "start-1", start)
		if err != nil || !s.Replayed {
			t.Fatalf("start replay: %+v %v", s, err)
		}
		assertSameJSON(t, s1.Body, s.Body)
	}
	if used := e.usedFast(lic); used != 1 {
		t.Fatalf("%d executions counted after replays", used)
	}
	// The same key on another operation is another request.
	_, err = e.svc.FinishJob(e.ctx, lic, "start-1", quota.FinishRequest{JobID: uuid.NewString()})
	wantCode(t, err, licensing.CodeIdempotencyReused)

	// Refusals are not stored: after the refusal the same key can succeed.
	full := e.license(1, 1)
	fa := e.register(full, "a")
	e.start(full, fa.ID)
	_, err = e.svc.StartJob(e.ctx, full, "k", quota.StartRequest{ApplicationID: fa.ID.String(), Name: "n"})
	wantCode(t, err, licensing.CodeQuotaExceeded)
	e.exec("UPDATE licenses SET max_executions_per_24h = 2 WHERE id = $1", full)
	if o, err := e.svc.StartJob(e.ctx, full, "k", quota.StartRequest{ApplicationID: fa.ID.String(), Name: "n"}); err != nil || o.Replayed {
		t.Fatalf("after the upgrade: %+v %v", o, err)
	}

	// Finish with a key replays even though a plain repeat would also pass.
	var job quota.Job
	mustDecode(t, s1.Body, &job)
	f1, err := e.svc.FinishJob(e.ctx, lic, "fin-1", quota.FinishRequest{JobID: job.ID.String()})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := e.svc.FinishJob(e.ctx, lic, "fin-1", quota.FinishRequest{JobID: job.ID.String(), Status: "COMPLETED"})
	if err != nil || !f2.Replayed {
		t.Fatalf("finish replay: %+v %v", f2, err)
	}
	assertSameJSON(t, f1.Body, f2.Body)

	// Keys expire after 24 hours: an old key is a new request.
	e.exec("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE key = 'reg-1' AND license_id = $1", lic)
	if o, err := e.svc.RegisterApp(e.ctx, lic, "reg-1", quota.RegisterRequest{Name: "app2"}); err != nil || o.Replayed {
		t.Fatalf("expired key: %+v %v", o, err)
	}
}

func assertSameJSON(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	mustDecode(t, a, &x)
	mustDecode(t, b, &y)
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	if string(xa) != string(ya) {
		t.Fatalf("bodies differ:\n%s\n%s", a, b)
	}
}

// TestDowngrade: a downgrade below usage keeps what exists and refuses new
// registrations and starts until usage is under the new limit.
func TestDowngrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(3, 5)
	apps := []quota.Application{e.register(lic, "a"), e.register(lic, "b"), e.register(lic, "c")}
	for range 4 {
		e.start(lic, apps[0].ID)
	}
	e.exec("UPDATE licenses SET max_apps = 1, max_executions_per_24h = 2 WHERE id = $1", lic)
	_, err := e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "d"})
	le := wantCode(t, err, licensing.CodeAppLimitReached)
	if le.Extra["current_count"] != int64(3) {
		t.Fatalf("facts %v", le.Extra)
	}
	_, err = e.svc.StartJob(e.ctx, lic, "", quota.StartRequest{ApplicationID: apps[1].ID.String(), Name: "x"})
	le = wantCode(t, err, licensing.CodeQuotaExceeded)
	if le.Extra["current_count"] != int64(4) {
		t.Fatalf("facts %v", le.Extra)
	}
	// Every existing app still runs jobs once executions are under the limit:
	// move the three oldest starts out of the window.
	e.exec(`UPDATE jobs SET started_at = started_at - interval '25 hours'
		WHERE license_id = $1 AND seq <= 3`, lic)
	e.start(lic, apps[2].ID)
	if err := e.svc.DeleteApp(e.ctx, lic, apps[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteApp(e.ctx, lic, apps[1].ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.RegisterApp(e.ctx, lic, "", quota.RegisterRequest{Name: "d"})
	wantCode(t, err, licensing.CodeAppLimitReached)
	if err := e.svc.DeleteApp(e.ctx, lic, apps[2].ID); err != nil {
		t.Fatal(err)
	}
	e.register(lic, "d")
}

// TestJobList pages and filters.
func TestJobList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lic := e.license(2, 50)
	a, b := e.register(lic, "a"), e.register(lic, "b")
	var ids []uuid.UUID
	for i := range 7 {
		app := a
		if i%2 == 1 {
			app = b
		}
		ids = append(ids, e.start(lic, app.ID).ID)
	}
	if _, err := e.svc.FinishJob(e.ctx, lic, "", quota.FinishRequest{JobID: ids[0].String()}); err != nil {
		t.Fatal(err)
	}
	var seen []uuid.UUID
	cursor := ""
	for {
		page, err := e.svc.ListJobs(e.ctx, lic, quota.JobListOptions{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Items {
			seen = append(seen, j.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 7 || seen[0] != ids[6] || seen[6] != ids[0] {
		t.Fatalf("pages gave %v, want newest first %v", seen, ids)
	}
	onlyB, err := e.svc.ListJobs(e.ctx, lic, quota.JobListOptions{ApplicationID: b.ID.String()})
	if err != nil || len(onlyB.Items) != 3 {
		t.Fatalf("by application: %d %v", len(onlyB.Items), err)
	}
	done, err := e.svc.ListJobs(e.ctx, lic, quota.JobListOptions{Status: "completed"})
	if err != nil || len(done.Items) != 1 || done.Items[0].ID != ids[0] {
		t.Fatalf("by status: %+v %v", done, err)
	}
	future, err := e.svc.ListJobs(e.ctx, lic, quota.JobListOptions{Since: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	if err != nil || len(future.Items) != 0 {
		t.Fatalf("since: %+v %v", future, err)
	}
	for _, bad := range []quota.JobListOptions{{Status: "x"}, {ApplicationID: "x"}, {Since: "yesterday"}, {Cursor: "!!"}} {
		_, err := e.svc.ListJobs(e.ctx, lic, bad)
		wantCode(t, err, licensing.CodeValidation)
	}
}
