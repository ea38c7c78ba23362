package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
)

type application struct {
	ID        string         `json:"id"`
	LicenseID string         `json:"license_id"`
	Name      string         `json:"name"`
	Metadata  map[string]any `json:"metadata"`
	IsActive  bool           `json:"is_active"`
}

type job struct {
	ID            string          `json:"id"`
	ApplicationID string          `json:"application_id"`
	Status        string          `json:"status"`
	StartedAt     time.Time       `json:"started_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
	ExecutionTime *float64        `json:"execution_time"`
	Result        json.RawMessage `json:"result"`
}

type usage struct {
	LicenseID       string `json:"license_id"`
	TenantID        string `json:"tenant_id"`
	EffectiveStatus string `json:"effective_status"`
	Apps            struct {
		Used, Max, Remaining int
	} `json:"apps"`
	Executions struct {
		WindowSeconds int        `json:"window_seconds"`
		Used          int        `json:"used"`
		Max           int        `json:"max"`
		Remaining     int        `json:"remaining"`
		NextSlotAt    *time.Time `json:"next_slot_at"`
	} `json:"executions"`
}

func registerApp(t *testing.T, env *apitest.Env, token, name string) application {
	t.Helper()
	r := env.Do(http.MethodPost, "/api/apps/register", token, map[string]any{"name": name})
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, r.Status, r.Body)
	}
	var a application
	r.Decode(t, &a)
	return a
}

func startJob(t *testing.T, env *apitest.Env, token, appID string) job {
	t.Helper()
	r := env.Do(http.MethodPost, "/api/jobs/start", token, map[string]any{"application_id": appID, "name": "nightly"})
	if r.Status != http.StatusCreated {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	var j job
	r.Decode(t, &j)
	return j
}

// TestChallengeScenario is the challenge over HTTP: license acme with
// maxApps 2 and maxExecutionsPer24h 100; two registrations pass, the third
// is 403; 100 starts pass, the 101st is 429; finish works.
func TestChallengeScenario(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{"tenantId": "acme", "tenantName": "Acme", "maxApps": 2, "maxExecutionsPer24h": 100})
	if r.Status != http.StatusCreated {
		t.Fatalf("create acme: %d %s", r.Status, r.Body)
	}
	var acme license
	r.Decode(t, &acme)
	if acme.MaxApps != 2 || acme.MaxExecutionsPer24h != 100 {
		t.Fatalf("license %+v", acme)
	}
	tok := acme.Token

	r = env.Do(http.MethodPost, "/apps/register", tok, map[string]any{"name": "etl", "version": "1.2.0", "metadata": map[string]any{"team": "data"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("first registration: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != `"apps";q=2` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
	if got := r.Header.Get("RateLimit"); got != `"apps";r=1` {
		t.Fatalf("RateLimit %q", got)
	}
	var etl application
	r.Decode(t, &etl)
	if etl.LicenseID != acme.ID || !etl.IsActive || etl.Metadata["team"] != "data" {
		t.Fatalf("application %+v", etl)
	}
	registerApp(t, env, tok, "reports")
	r = env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": "third"})
	wantProblem(t, r, http.StatusForbidden, "APP_LIMIT_REACHED")
	var facts map[string]any
	r.Decode(t, &facts)
	if facts["max_apps"] != 2.0 || facts["current_count"] != 2.0 {
		t.Fatalf("refusal facts %v", facts)
	}

	var first job
	for i := range 100 {
		path := "/api/jobs/start"
		if i%2 == 1 {
			path = "/jobs/start"
		}
		r := env.Do(http.MethodPost, path, tok, map[string]any{"application_id": etl.ID, "name": fmt.Sprintf("run %d", i)})
		if r.Status != http.StatusCreated {
			t.Fatalf("start %d: %d %s", i+1, r.Status, r.Body)
		}
		if i == 0 {
			r.Decode(t, &first)
		}
		if got, want := r.Header.Get("RateLimit"), fmt.Sprintf(`"executions";r=%d;t=`, 99-i); !strings.HasPrefix(got, want) {
			t.Fatalf("start %d: RateLimit %q, want %s...", i+1, got, want)
		}
		if got := r.Header.Get("RateLimit-Policy"); got != `"executions";q=100;w=86400` {
			t.Fatalf("RateLimit-Policy %q", got)
		}
	}
	if first.Status != "RUNNING" || first.ApplicationID != etl.ID {
		t.Fatalf("first job %+v", first)
	}
	r = env.Do(http.MethodPost, "/jobs/start", tok, map[string]any{"application_id": etl.ID, "name": "one too many"})
	wantProblem(t, r, http.StatusTooManyRequests, "EXECUTION_QUOTA_EXCEEDED")
	r.Decode(t, &facts)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 86390 || retry > 86400 || facts["retry_after_seconds"] != float64(retry) {
		t.Fatalf("Retry-After %q, body %v", r.Header.Get("Retry-After"), facts)
	}
	if facts["current_count"] != 100.0 || facts["max_executions_per_24h"] != 100.0 {
		t.Fatalf("refusal facts %v", facts)
	}
	next, _ := time.Parse(time.RFC3339Nano, facts["next_slot_at"].(string))
	if !next.Equal(first.StartedAt.Add(24 * time.Hour)) {
		t.Fatalf("next_slot_at %v, want %v", next, first.StartedAt.Add(24*time.Hour))
	}
	if got := r.Header.Get("RateLimit"); got != fmt.Sprintf(`"executions";r=0;t=%d`, retry) {
		t.Fatalf("RateLimit on 429: %q", got)
	}

	r = env.Do(http.MethodPost, "/jobs/finish", tok, map[string]any{"job_id": first.ID, "status": "COMPLETED", "result": map[string]any{"rows": 42}, "cpu_usage": 35.5, "memory_usage": 512})
	if r.Status != http.StatusOK {
		t.Fatalf("finish: %d %s", r.Status, r.Body)
	}
	var done job
	r.Decode(t, &done)
	if done.Status != "COMPLETED" || done.FinishedAt == nil || done.ExecutionTime == nil || string(done.Result) != `{"rows":42}` {
		t.Fatalf("finished %+v", done)
	}

	r = env.Do(http.MethodGet, "/api/quota", tok, nil)
	var u usage
	r.Decode(t, &u)
	if r.Status != http.StatusOK || u.TenantID != "acme" || u.EffectiveStatus != "ACTIVE" || u.Apps.Used != 2 || u.Apps.Remaining != 0 ||
		u.Executions.Used != 100 || u.Executions.Remaining != 0 || u.Executions.WindowSeconds != 86400 || u.Executions.NextSlotAt == nil || !u.Executions.NextSlotAt.Equal(next) {
		t.Fatalf("quota %d %+v", r.Status, u)
	}
	r = env.Do(http.MethodGet, "/api/licenses/"+acme.ID+"/usage", env.AdminToken, nil)
	var au usage
	r.Decode(t, &au)
	if r.Status != http.StatusOK || au.Executions.Used != 100 || au.LicenseID != acme.ID {
		t.Fatalf("admin usage %d %+v", r.Status, au)
	}
	r = env.Do(http.MethodGet, "/api/jobs?status=COMPLETED", tok, nil)
	var jobs struct {
		Items      []job   `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	r.Decode(t, &jobs)
	if r.Status != http.StatusOK || len(jobs.Items) != 1 || jobs.Items[0].ID != first.ID {
		t.Fatalf("completed jobs %d %s", r.Status, r.Body)
	}
	r = env.Do(http.MethodGet, "/api/jobs?limit=30&application_id="+etl.ID, tok, nil)
	r.Decode(t, &jobs)
	if len(jobs.Items) != 30 || jobs.NextCursor == nil {
		t.Fatalf("first page: %d items, cursor %v", len(jobs.Items), jobs.NextCursor)
	}
	r = env.Do(http.MethodGet, "/api/jobs/"+first.ID, tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get job %d %s", r.Status, r.Body)
	}

	fams, _ := scrape(t, env)
	for _, c := range []struct {
		op, result string
		want       float64
	}{
		{"jobs/start", "ok", 100},
		{"jobs/start", "execution_quota_exceeded", 1},
		{"apps/register", "ok", 2},
		{"apps/register", "app_limit_reached", 1},
		{"jobs/finish", "ok", 1},
	} {
		m := find(fams, "licensing_quota_decisions_total", map[string]string{"operation": c.op, "result": c.result})
		if m == nil || m.GetCounter().GetValue() != c.want {
			t.Errorf("licensing_quota_decisions_total{operation=%q,result=%q} = %v, want %v", c.op, c.result, m.GetCounter().GetValue(), c.want)
		}
	}
}

// TestQuotaEndpointsRefuseBadRequests: authentication, bodies, ids and
// query parameters.
func TestQuotaEndpointsRefuseBadRequests(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "bad-requests", nil)
	tok := lic.Token
	app := registerApp(t, env, tok, "a")

	for _, path := range []string{"/api/apps/register", "/apps/register", "/api/jobs/start", "/jobs/start", "/api/jobs/finish", "/jobs/finish"} {
		wantProblem(t, env.Do(http.MethodPost, path, "", map[string]any{}), http.StatusUnauthorized, "INVALID_TOKEN")
		wantProblem(t, env.Do(http.MethodPost, path, "not.a.token", map[string]any{}), http.StatusUnauthorized, "INVALID_TOKEN")
		wantProblem(t, env.Do(http.MethodPost, path, tok, `{"name": `), http.StatusBadRequest, "MALFORMED_JSON")
		wantProblem(t, env.Do(http.MethodPost, path, tok, "name=x", "Content-Type", "application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
	}
	for _, get := range []string{"/api/apps", "/api/jobs", "/api/quota", "/api/apps/" + app.ID, "/api/jobs/" + app.ID} {
		wantProblem(t, env.Do(http.MethodGet, get, "", nil), http.StatusUnauthorized, "INVALID_TOKEN")
	}
	// The admin key is not a license token, and a license token is not an admin key.
	wantProblem(t, env.Do(http.MethodGet, "/api/quota", env.AdminToken, nil), http.StatusUnauthorized, "INVALID_TOKEN")
	wantProblem(t, env.Do(http.MethodGet, "/api/licenses/"+lic.ID+"/usage", tok, nil), http.StatusUnauthorized, "UNAUTHORIZED")

	p := wantProblem(t, env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": 7}), http.StatusBadRequest, "VALIDATION_FAILED")
	if len(p.Errors) != 1 || p.Errors[0].Field != "name" {
		t.Fatalf("errors %+v", p.Errors)
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": strings.Repeat("x", 256)}), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": "m", "metadata": []int{1}}), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": "k"}, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "VALIDATION_FAILED")
	// Unknown fields are ignored.
	if r := env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": "b", "colour": "blue"}); r.Status != http.StatusCreated {
		t.Fatalf("unknown field: %d %s", r.Status, r.Body)
	}
	p = wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", tok, map[string]any{}), http.StatusBadRequest, "VALIDATION_FAILED")
	if got := p.fields(); len(got) != 2 || got[0] != "application_id" || got[1] != "name" {
		t.Fatalf("fields %v", got)
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", tok, map[string]any{"application_id": "nope", "name": "x"}), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/finish", tok, map[string]any{"job_id": app.ID, "cpu_usage": 101}), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/finish", tok, map[string]any{"job_id": app.ID, "status": "RUNNING"}), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/finish", tok, map[string]any{"job_id": app.ID}), http.StatusNotFound, "JOB_NOT_FOUND")

	wantProblem(t, env.Do(http.MethodGet, "/api/apps/not-a-uuid", tok, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodGet, "/api/jobs/not-a-uuid", tok, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodDelete, "/api/apps/not-a-uuid", tok, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "status=DONE", "since=yesterday", "application_id=x", "cursor=%21%21"} {
		wantProblem(t, env.Do(http.MethodGet, "/api/jobs?"+q, tok, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	}
	for _, q := range []string{"limit=-1", "include_deleted=maybe", "cursor=xyz"} {
		wantProblem(t, env.Do(http.MethodGet, "/api/apps?"+q, tok, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	}
	wantProblem(t, env.Do(http.MethodGet, "/api/licenses/not-a-uuid/usage", env.AdminToken, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	wantProblem(t, env.Do(http.MethodGet, "/api/licenses/00000000-0000-0000-0000-000000000000/usage", env.AdminToken, nil), http.StatusNotFound, "LICENSE_NOT_FOUND")
}

// TestQuotaIsolation: tenant A's token can neither see, start on, finish
// nor delete tenant B's applications and jobs.
func TestQuotaIsolation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := mustCreate(t, env, "tenant-a", nil)
	b := mustCreate(t, env, "tenant-b", nil)
	appB := registerApp(t, env, b.Token, "shared")
	registerApp(t, env, a.Token, "shared")
	jobB := startJob(t, env, b.Token, appB.ID)

	wantProblem(t, env.Do(http.MethodGet, "/api/apps/"+appB.ID, a.Token, nil), http.StatusNotFound, "APP_NOT_FOUND")
	wantProblem(t, env.Do(http.MethodGet, "/api/jobs/"+jobB.ID, a.Token, nil), http.StatusNotFound, "JOB_NOT_FOUND")
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", a.Token, map[string]any{"application_id": appB.ID, "name": "x"}), http.StatusNotFound, "APP_NOT_FOUND")
	wantProblem(t, env.Do(http.MethodPost, "/jobs/finish", a.Token, map[string]any{"job_id": jobB.ID}), http.StatusNotFound, "JOB_NOT_FOUND")
	wantProblem(t, env.Do(http.MethodDelete, "/api/apps/"+appB.ID, a.Token, nil), http.StatusNotFound, "APP_NOT_FOUND")
	r := env.Do(http.MethodGet, "/api/jobs?application_id="+appB.ID, a.Token, nil)
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"items":[]`)) {
		t.Fatalf("A lists B's jobs: %d %s", r.Status, r.Body)
	}
	r = env.Do(http.MethodGet, "/api/apps", a.Token, nil)
	if bytes.Contains(r.Body, []byte(appB.ID)) {
		t.Fatalf("A lists B's app: %s", r.Body)
	}
	r = env.Do(http.MethodGet, "/api/jobs/"+jobB.ID, b.Token, nil)
	var still job
	r.Decode(t, &still)
	if still.Status != "RUNNING" {
		t.Fatalf("B's job after A's attempts: %+v", still)
	}
}

// TestQuotaIdempotencyAndFinishRules over HTTP.
func TestQuotaIdempotencyAndFinishRules(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "idem", nil)
	tok := lic.Token
	app := registerApp(t, env, tok, "a")

	body := map[string]any{"application_id": app.ID, "name": "nightly", "metadata": map[string]any{"a": 1, "b": 2}}
	r1 := env.Do(http.MethodPost, "/api/jobs/start", tok, body, "Idempotency-Key", "start-42")
	// The same request, written differently, on the bare path.
	r2 := env.Do(http.MethodPost, "/jobs/start", tok, `{"metadata": {"b": 2, "a": 1}, "name": "nightly", "application_id": "`+app.ID+`"}`, "Idempotency-Key", "start-42")
	if r1.Status != http.StatusCreated || r2.Status != http.StatusCreated || r2.Header.Get("Idempotent-Replayed") != "true" || r1.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("replay: %d %d %q", r1.Status, r2.Status, r2.Header.Get("Idempotent-Replayed"))
	}
	var j1, j2 job
	r1.Decode(t, &j1)
	r2.Decode(t, &j2)
	if j1.ID != j2.ID {
		t.Fatalf("replay started another job: %s %s", j1.ID, j2.ID)
	}
	var u usage
	env.Do(http.MethodGet, "/api/quota", tok, nil).Decode(t, &u)
	if u.Executions.Used != 1 {
		t.Fatalf("%d executions after a replay", u.Executions.Used)
	}
	body["name"] = "another"
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", tok, body, "Idempotency-Key", "start-42"), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")

	fin := map[string]any{"job_id": j1.ID, "status": "FAILED", "error_message": "boom"}
	f1 := env.Do(http.MethodPost, "/api/jobs/finish", tok, fin)
	f2 := env.Do(http.MethodPost, "/jobs/finish", tok, fin)
	if f1.Status != http.StatusOK || f2.Status != http.StatusOK || !bytes.Equal(f1.Body, f2.Body) {
		t.Fatalf("repeated finish: %d %d\n%s\n%s", f1.Status, f2.Status, f1.Body, f2.Body)
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/finish", tok, map[string]any{"job_id": j1.ID}), http.StatusConflict, "JOB_NOT_RUNNING")

	reg1 := env.Do(http.MethodPost, "/api/apps/register", tok, map[string]any{"name": "b"}, "Idempotency-Key", "reg")
	reg2 := env.Do(http.MethodPost, "/apps/register", tok, map[string]any{"name": "b"}, "Idempotency-Key", "reg")
	if reg1.Status != http.StatusCreated || reg2.Status != http.StatusCreated || reg2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("register replay: %d %d", reg1.Status, reg2.Status)
	}
	// Deleting frees the name: the next registration of it is another app.
	var b application
	reg1.Decode(t, &b)
	if r := env.Do(http.MethodDelete, "/api/apps/"+b.ID, tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if again := registerApp(t, env, tok, "b"); again.ID == b.ID {
		t.Fatal("a deleted application came back")
	}
	r := env.Do(http.MethodGet, "/api/apps?include_deleted=true", tok, nil)
	var list struct {
		Items []application `json:"items"`
	}
	r.Decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("apps with deleted: %s", r.Body)
	}
}

// TestQuotaWhileSuspended: every operation is refused while the license
// is suspended, finishing included; the admin still sees its usage.
func TestQuotaWhileSuspended(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "paused", nil)
	app := registerApp(t, env, lic.Token, "a")
	j := startJob(t, env, lic.Token, app.ID)
	if r := env.Do(http.MethodPost, "/api/licenses/"+lic.ID+"/suspend", env.AdminToken, map[string]any{"reason": "unpaid"}); r.Status != http.StatusOK {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", lic.Token, map[string]any{"application_id": app.ID, "name": "x"}), http.StatusForbidden, "LICENSE_SUSPENDED")
	wantProblem(t, env.Do(http.MethodPost, "/jobs/finish", lic.Token, map[string]any{"job_id": j.ID}), http.StatusForbidden, "LICENSE_SUSPENDED")
	wantProblem(t, env.Do(http.MethodPost, "/apps/register", lic.Token, map[string]any{"name": "b"}), http.StatusForbidden, "LICENSE_SUSPENDED")
	wantProblem(t, env.Do(http.MethodGet, "/api/quota", lic.Token, nil), http.StatusForbidden, "LICENSE_SUSPENDED")
	r := env.Do(http.MethodGet, "/api/licenses/"+lic.ID+"/usage", env.AdminToken, nil)
	var u usage
	r.Decode(t, &u)
	if r.Status != http.StatusOK || u.EffectiveStatus != "SUSPENDED" || u.Executions.Used != 1 {
		t.Fatalf("admin usage of a suspended license: %d %s", r.Status, r.Body)
	}
	// A downgrade applies to the next decision once reactivated.
	env.Do(http.MethodPost, "/api/licenses/"+lic.ID+"/reactivate", env.AdminToken, nil)
	if r := env.Do(http.MethodPatch, "/api/licenses/"+lic.ID, env.AdminToken, map[string]any{"max_executions_per_24h": 1}); r.Status != http.StatusOK {
		t.Fatalf("downgrade: %d %s", r.Status, r.Body)
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/jobs/start", lic.Token, map[string]any{"application_id": app.ID, "name": "x"}), http.StatusTooManyRequests, "EXECUTION_QUOTA_EXCEEDED")
}

// TestQuotaRetryAfterMatchesTheOldestExecution moves the history back in
// time (no sleeping) and checks Retry-After against the oldest counted
// execution's exit from the window.
func TestQuotaRetryAfterMatchesTheOldestExecution(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "retry", map[string]any{"max_executions_per_24h": 3})
	app := registerApp(t, env, lic.Token, "a")
	for range 3 {
		startJob(t, env, lic.Token, app.ID)
	}
	ctx := context.Background()
	// Job 1 started 25 hours ago (out), job 2 23 hours ago, job 3 one hour ago.
	if _, err := env.Owner.Exec(ctx, `UPDATE jobs SET started_at = now() - CASE seq WHEN 1 THEN interval '25 hours' WHEN 2 THEN interval '23 hours' ELSE interval '1 hour' END
		WHERE license_id = $1`, lic.ID); err != nil {
		t.Fatal(err)
	}
	startJob(t, env, lic.Token, app.ID) // fits: only 2 counted
	r := env.Do(http.MethodPost, "/api/jobs/start", lic.Token, map[string]any{"application_id": app.ID, "name": "x"})
	wantProblem(t, r, http.StatusTooManyRequests, "EXECUTION_QUOTA_EXCEEDED")
	// The oldest counted is job 2: it leaves in one hour.
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if retry < 3590 || retry > 3600 {
		t.Fatalf("Retry-After %d, want about 3600", retry)
	}
	var facts struct {
		NextSlotAt time.Time `json:"next_slot_at"`
	}
	r.Decode(t, &facts)
	var job2 time.Time
	if err := env.Owner.QueryRow(ctx, "SELECT started_at FROM jobs WHERE license_id = $1 AND seq = 2", lic.ID).Scan(&job2); err != nil {
		t.Fatal(err)
	}
	if !facts.NextSlotAt.Equal(job2.Add(24 * time.Hour)) {
		t.Fatalf("next_slot_at %v, want %v", facts.NextSlotAt, job2.Add(24*time.Hour))
	}
}

// TestQuotaConcurrentClients: 64 HTTP clients trying ten times the limit
// on one license get exactly the limit of 201s, for starts and for
// registrations, repetition after repetition; the database agrees.
func TestQuotaConcurrentClients(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Config) {
		// Exactness is the point here, not the bounds on waiting: on a
		// loaded machine 64 clients queue on one license row for longer
		// than the default lock and queue timeouts (then 503, retried).
		c.PoolSize = 70
		c.LockTimeout = 30 * time.Second
		c.QueueTimeout = 30 * time.Second
	})
	ctx := context.Background()
	for rep, limit := range []int{1, 25, 60} {
		lic := mustCreate(t, env, fmt.Sprintf("race-%d", rep), map[string]any{"max_apps": limit, "max_executions_per_24h": limit})
		apps := hammer(t, env, lic.Token, 10*limit, func(i int) (string, any) {
			return "/api/apps/register", map[string]any{"name": fmt.Sprintf("app-%d", i)}
		})
		var appRows int
		if err := env.Owner.QueryRow(ctx, "SELECT count(*) FROM applications WHERE license_id = $1", lic.ID).Scan(&appRows); err != nil {
			t.Fatal(err)
		}
		if apps[http.StatusCreated] != limit || appRows != limit || apps[http.StatusForbidden] != 9*limit {
			t.Fatalf("repetition %d: registrations %v, %d rows, limit %d", rep, apps, appRows, limit)
		}
		var appID string
		if err := env.Owner.QueryRow(ctx, "SELECT id FROM applications WHERE license_id = $1 LIMIT 1", lic.ID).Scan(&appID); err != nil {
			t.Fatal(err)
		}
		starts := hammer(t, env, lic.Token, 10*limit, func(i int) (string, any) {
			path := "/api/jobs/start"
			if i%2 == 0 {
				path = "/jobs/start"
			}
			return path, map[string]any{"application_id": appID, "name": "j"}
		})
		var jobRows int
		if err := env.Owner.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE license_id = $1", lic.ID).Scan(&jobRows); err != nil {
			t.Fatal(err)
		}
		if starts[http.StatusCreated] != limit || jobRows != limit || starts[http.StatusTooManyRequests] != 9*limit {
			t.Fatalf("repetition %d: starts %v, %d rows, limit %d", rep, starts, jobRows, limit)
		}
	}
}

// hammer sends n POSTs from 64 clients released together and counts the
// final statuses; every response is checked against the OpenAPI document.
// A 503 did nothing and says to retry: the client retries it.
func hammer(t *testing.T, env *apitest.Env, token string, n int, req func(i int) (string, any)) map[int]int {
	t.Helper()
	const clients = 64
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		counts  = map[int]int{}
		barrier = make(chan struct{})
		work    = make(chan int, n)
	)
	for i := range n {
		work <- i
	}
	close(work)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-barrier
			for i := range work {
				path, body := req(i)
				raw, _ := json.Marshal(body)
				status := 0
				for try := 0; try < 20 && (status == 0 || status == http.StatusServiceUnavailable); try++ {
					hr, _ := http.NewRequest(http.MethodPost, env.Server.URL+path, bytes.NewReader(raw))
					hr.Header.Set("Content-Type", "application/json")
					hr.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(hr)
					if err != nil {
						t.Errorf("%s: %v", path, err)
						break
					}
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					apitest.CheckResponse(t, hr, resp.StatusCode, resp.Header, data)
					status = resp.StatusCode
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		}()
	}
	close(barrier)
	wg.Wait()
	return counts
}
