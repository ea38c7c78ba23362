package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/apitest"
)

// license is a License (or LicenseCreated) as the API renders it.
type license struct {
	ID                  string    `json:"id"`
	TenantID            string    `json:"tenant_id"`
	TenantName          string    `json:"tenant_name"`
	MaxApps             int       `json:"max_apps"`
	MaxExecutionsPer24h int       `json:"max_executions_per_24h"`
	ValidFrom           time.Time `json:"valid_from"`
	ValidTo             time.Time `json:"valid_to"`
	Status              string    `json:"status"`
	EffectiveStatus     string    `json:"effective_status"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	Token               string    `json:"token"`
	TokenID             string    `json:"token_id"`
}

type auditEvent struct {
	ID        int64          `json:"id"`
	LicenseID string         `json:"license_id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Before    map[string]any `json:"before"`
	After     map[string]any `json:"after"`
	Reason    *string        `json:"reason"`
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	LicenseStatus string `json:"license_status"`
}

func (p problem) fields() []string {
	var fs []string
	for _, e := range p.Errors {
		fs = append(fs, e.Field)
	}
	sort.Strings(fs)
	return fs
}

// mustCreate creates a license with tenant id tenant and the given extra fields.
func mustCreate(t *testing.T, env *apitest.Env, tenant string, extra map[string]any) license {
	t.Helper()
	body := map[string]any{"tenant_id": tenant, "tenant_name": "Tenant " + tenant, "max_apps": 3, "max_executions_per_24h": 100}
	for k, v := range extra {
		body[k] = v
	}
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", tenant, r.Status, r.Body)
	}
	var l license
	r.Decode(t, &l)
	return l
}

func wantProblem(t *testing.T, r apitest.Response, status int, code string) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var p problem
	r.Decode(t, &p)
	if p.Code != code {
		t.Fatalf("code %q, want %q: %s", p.Code, code, r.Body)
	}
	return p
}

func events(t *testing.T, env *apitest.Env, id string) []auditEvent {
	t.Helper()
	r := env.Do(http.MethodGet, "/api/licenses/"+id+"/events?limit=200", env.AdminToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("events: %d %s", r.Status, r.Body)
	}
	var page struct {
		Items []auditEvent `json:"items"`
	}
	r.Decode(t, &page)
	return page.Items
}

func TestAdminAuthRefusesMissingAndWrongKeys(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for _, tc := range []struct{ name, header string }{
		{"missing", ""},
		{"wrong key", "Bearer not-the-admin-token"},
		{"wrong scheme", "Basic " + env.AdminToken},
		{"empty bearer", "Bearer "},
		{"token prefix", "Bearer " + env.AdminToken[:10]},
	} {
		for _, route := range [][2]string{{"GET", "/api/licenses"}, {"POST", "/api/licenses"}, {"GET", "/api/licenses/00000000-0000-0000-0000-000000000000"}, {"POST", "/api/licenses/x/suspend"}} {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			r := env.Do(route[0], route[1], "", nil, hdr...)
			wantProblem(t, r, http.StatusUnauthorized, "UNAUTHORIZED")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s %s: WWW-Authenticate %q", tc.name, route[0], route[1], r.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil); r.Status != http.StatusOK {
		t.Fatalf("with the admin token: %d %s", r.Status, r.Body)
	}
	if strings.Contains(env.Logs.String(), env.AdminToken) {
		t.Fatal("the admin token appears in the logs")
	}
}

func TestAdminStoredKeysWorkUntilRevoked(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	key, k, err := env.App.Admin.CreateKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "alice" || strings.Contains(string(k.KeyHash), key) || len(k.KeyHash) != 32 {
		t.Fatalf("stored key %+v", k)
	}
	l := mustCreate(t, env, "stored-keys", nil)
	if r := env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/suspend", key, map[string]any{"reason": "unpaid"}); r.Status != http.StatusOK {
		t.Fatalf("suspend with a stored key: %d %s", r.Status, r.Body)
	}
	evs := events(t, env, l.ID)
	if last := evs[len(evs)-1]; last.Actor != "alice" || last.Action != "SUSPEND" {
		t.Fatalf("last event %+v, want SUSPEND by alice", last)
	}
	if evs[0].Actor != "env" {
		t.Fatalf("create actor %q, want env", evs[0].Actor)
	}

	if _, _, err := env.App.Admin.CreateKey(ctx, "alice"); err == nil || !strings.Contains(err.Error(), "ADMIN_KEY_NAME_TAKEN") {
		t.Fatalf("second alice: %v", err)
	}
	for _, bad := range []string{"env", "", "has space", strings.Repeat("x", 101)} {
		if _, _, err := env.App.Admin.CreateKey(ctx, bad); err == nil || !strings.Contains(err.Error(), "VALIDATION_FAILED") {
			t.Fatalf("key name %q: %v", bad, err)
		}
	}
	keys, err := env.App.Admin.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt != nil {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if _, err := env.App.Admin.RevokeKey(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, env.Do(http.MethodGet, "/api/licenses", key, nil), http.StatusUnauthorized, "UNAUTHORIZED")
	if _, err := env.App.Admin.RevokeKey(ctx, "alice"); err == nil || !strings.Contains(err.Error(), "ADMIN_KEY_NOT_FOUND") {
		t.Fatalf("revoking twice: %v", err)
	}
	if strings.Contains(env.Logs.String(), key) {
		t.Fatal("a stored admin key appears in the logs")
	}
}

func TestCreateAcceptsSnakeAndCamelCase(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
	bodies := map[string]map[string]any{
		"snake": {"tenant_id": "acme", "tenant_name": "Acme Corp", "max_apps": 5, "max_executions_per_24h": 1000,
			"valid_from": from.Format(time.RFC3339), "valid_to": to.Format(time.RFC3339)},
		"camel": {"tenantId": "globex", "tenantName": "Globex", "maxApps": 5, "maxExecutionsPer24h": 1000,
			"validFrom": "2026-01-01T01:00:00+01:00", "validTo": to.Format(time.RFC3339)},
		// Both spellings of a field may be given when they agree.
		"both agreeing": {"tenant_id": "initech", "tenantId": "initech", "tenant_name": "Initech", "maxApps": 5, "max_apps": 5,
			"max_executions_per_24h": 1000, "valid_from": from.Format(time.RFC3339), "valid_to": to.Format(time.RFC3339)},
	}
	for name, body := range bodies {
		r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		var l license
		r.Decode(t, &l)
		if l.MaxApps != 5 || l.MaxExecutionsPer24h != 1000 || !l.ValidFrom.Equal(from) || !l.ValidTo.Equal(to) ||
			l.Status != "ACTIVE" || l.EffectiveStatus != "ACTIVE" || l.Token == "" || l.TokenID == "" {
			t.Fatalf("%s: %+v", name, l)
		}
		if r.Header.Get("Location") != "/api/licenses/"+l.ID {
			t.Fatalf("%s: Location %q", name, r.Header.Get("Location"))
		}
		// Times are RFC 3339 in UTC.
		raw := r.JSON(t)
		for _, f := range []string{"valid_from", "valid_to", "created_at", "updated_at"} {
			if s, _ := raw[f].(string); !strings.HasSuffix(s, "Z") {
				t.Fatalf("%s: %s = %q is not UTC", name, f, s)
			}
		}
		got := env.Do(http.MethodGet, "/api/licenses/"+l.ID, env.AdminToken, nil)
		var again license
		got.Decode(t, &again)
		if got.Status != http.StatusOK || again.TenantID != l.TenantID || again.Token != "" {
			t.Fatalf("%s: get %d %s", name, got.Status, got.Body)
		}
		evs := events(t, env, l.ID)
		if len(evs) != 2 || evs[0].Action != "CREATE" || evs[0].Before != nil || evs[0].After["tenant_id"] != l.TenantID ||
			evs[1].Action != "TOKEN_ISSUE" || evs[1].After["jti"] != l.TokenID {
			t.Fatalf("%s: events %+v", name, evs)
		}
		if strings.Contains(fmt.Sprint(evs), l.Token) {
			t.Fatalf("%s: the token is in the audit trail", name)
		}
	}
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	before := time.Now().Add(-time.Second)
	l := mustCreate(t, env, "defaults", nil)
	if l.ValidFrom.Before(before) || l.ValidFrom.After(time.Now().Add(time.Second)) {
		t.Fatalf("valid_from %v is not now", l.ValidFrom)
	}
	if !l.ValidTo.Equal(l.ValidFrom.AddDate(1, 0, 0)) {
		t.Fatalf("valid_to %v, want valid_from + 1 year", l.ValidTo)
	}
	s := mustCreate(t, env, "born-suspended", map[string]any{"status": "SUSPENDED"})
	if s.Status != "SUSPENDED" || s.EffectiveStatus != "SUSPENDED" {
		t.Fatalf("%+v", s)
	}
	future := mustCreate(t, env, "future", map[string]any{"valid_from": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})
	if future.EffectiveStatus != "NOT_YET_VALID" {
		t.Fatalf("%+v", future)
	}
}

func TestCreateRefusesATakenTenant(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mustCreate(t, env, "dup", nil)
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{"tenantId": "dup", "tenantName": "Again", "maxApps": 1, "maxExecutionsPer24h": 1})
	wantProblem(t, r, http.StatusConflict, "TENANT_ID_TAKEN")
	// The failed create left no license and no audit row behind.
	r = env.Do(http.MethodGet, "/api/licenses?tenant_id=dup", env.AdminToken, nil)
	var page struct{ Items []license }
	r.Decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].TenantName != "Tenant dup" {
		t.Fatalf("%s", r.Body)
	}
	if evs := events(t, env, page.Items[0].ID); len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
}

func TestCreateValidatesEachField(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ok := func() map[string]any {
		return map[string]any{"tenant_id": "valid", "tenant_name": "Valid", "max_apps": 1, "max_executions_per_24h": 1}
	}
	with := func(kv ...any) map[string]any {
		b := ok()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(b, kv[i].(string))
			} else {
				b[kv[i].(string)] = kv[i+1]
			}
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"empty body", map[string]any{}, []string{"max_apps", "max_executions_per_24h", "tenant_id", "tenant_name"}},
		{"tenant_id format", with("tenant_id", "-bad"), []string{"tenant_id"}},
		{"tenant_id spaces", with("tenant_id", "a b"), []string{"tenant_id"}},
		{"tenant_id too long", with("tenant_id", strings.Repeat("a", 129)), []string{"tenant_id"}},
		{"tenant_name blank", with("tenant_name", "   "), []string{"tenant_name"}},
		{"tenant_name too long", with("tenant_name", strings.Repeat("n", 256)), []string{"tenant_name"}},
		{"negative limits", with("max_apps", -1, "max_executions_per_24h", -5), []string{"max_apps", "max_executions_per_24h"}},
		{"huge limits", with("max_apps", 1_000_001, "max_executions_per_24h", 1_000_000_001), []string{"max_apps", "max_executions_per_24h"}},
		{"limit beyond int64", `{"tenant_id":"x","tenant_name":"x","max_apps":1e30,"max_executions_per_24h":1}`, []string{"max_apps"}},
		{"limit not a number", with("max_apps", "five"), []string{"max_apps"}},
		{"fractional limit", with("maxApps", 1.5, "max_apps", nil), []string{"max_apps"}},
		{"date not RFC 3339", with("valid_from", "2026-01-01"), []string{"valid_from"}},
		{"date garbage", with("validTo", "tomorrow"), []string{"valid_to"}},
		{"dates inverted", with("valid_from", "2030-01-01T00:00:00Z", "valid_to", "2029-01-01T00:00:00Z"), []string{"valid_to"}},
		{"dates equal", with("valid_from", "2030-01-01T00:00:00Z", "valid_to", "2030-01-01T00:00:00Z"), []string{"valid_to"}},
		{"born expired", with("valid_from", "2020-01-01T00:00:00Z", "valid_to", "2021-01-01T00:00:00Z"), []string{"valid_to"}},
		{"status REVOKED", with("status", "REVOKED"), []string{"status"}},
		{"status unknown", with("status", "active"), []string{"status"}},
		{"reason too long", with("reason", strings.Repeat("r", 1001)), []string{"reason"}},
		{"spellings disagree", with("tenantId", "other"), []string{"tenant_id"}},
		{"limit spellings disagree", with("maxApps", 2), []string{"max_apps"}},
	} {
		r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, tc.body)
		p := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED")
		if got := p.fields(); !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v: %s", tc.name, got, tc.fields, r.Body)
		}
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/licenses", env.AdminToken, `{"tenant_id":`), http.StatusBadRequest, "MALFORMED_JSON")
	if p := wantProblem(t, env.Do(http.MethodPost, "/api/licenses", env.AdminToken, with("tenant_name", "a\x00b")), http.StatusBadRequest, "VALIDATION_FAILED"); !slices.Equal(p.fields(), []string{"tenant_name"}) {
		t.Errorf("NUL in tenant_name: fields %v", p.fields())
	}
	wantProblem(t, env.Do(http.MethodPost, "/api/licenses", env.AdminToken, "x", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
	r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil)
	if !strings.Contains(string(r.Body), `"items":[]`) {
		t.Fatalf("refused creates left licenses behind: %s", r.Body)
	}
}

// TestLifecycleTransitions tries every action from every status: the
// allowed ones change the status and write their audit row, the refused ones
// are 409 INVALID_TRANSITION and write nothing.
func TestLifecycleTransitions(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	allowed := map[[2]string]string{
		{"ACTIVE", "suspend"}:       "SUSPENDED",
		{"SUSPENDED", "reactivate"}: "ACTIVE",
		{"ACTIVE", "revoke"}:        "REVOKED",
		{"SUSPENDED", "revoke"}:     "REVOKED",
	}
	n := 0
	for _, from := range []string{"ACTIVE", "SUSPENDED", "REVOKED"} {
		for _, action := range []string{"suspend", "reactivate", "revoke"} {
			n++
			tenant := fmt.Sprintf("lc-%d", n)
			l := mustCreate(t, env, tenant, nil)
			// Bring the license to from.
			switch from {
			case "SUSPENDED":
				env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/suspend", env.AdminToken, nil)
			case "REVOKED":
				env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/revoke", env.AdminToken, nil)
			}
			before := events(t, env, l.ID)
			reason := "because " + tenant
			r := env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/"+action, env.AdminToken, map[string]any{"reason": reason})
			after := events(t, env, l.ID)
			to, ok := allowed[[2]string{from, action}]
			if !ok {
				p := wantProblem(t, r, http.StatusConflict, "INVALID_TRANSITION")
				if p.LicenseStatus != from {
					t.Errorf("%s from %s: license_status %q", action, from, p.LicenseStatus)
				}
				if len(after) != len(before) {
					t.Errorf("%s from %s: a refused transition wrote an audit row", action, from)
				}
				continue
			}
			if r.Status != http.StatusOK {
				t.Fatalf("%s from %s: %d %s", action, from, r.Status, r.Body)
			}
			var got license
			r.Decode(t, &got)
			if got.Status != to || got.EffectiveStatus != to || !got.UpdatedAt.After(l.UpdatedAt) {
				t.Errorf("%s from %s: %+v", action, from, got)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%s from %s: %d new audit rows", action, from, len(after)-len(before))
			}
			ev := after[len(after)-1]
			if ev.Action != strings.ToUpper(action) || ev.Actor != "env" || ev.Reason == nil || *ev.Reason != reason ||
				ev.Before["status"] != from || ev.After["status"] != to || ev.After["tenant_id"] != tenant {
				t.Errorf("%s from %s: audit row %+v", action, from, ev)
			}
		}
	}
	// Without a body (and so without a reason) a transition works too.
	l := mustCreate(t, env, "no-body", nil)
	r := env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/suspend", env.AdminToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if ev := events(t, env, l.ID); ev[len(ev)-1].Reason != nil {
		t.Fatalf("reason %v", *ev[len(ev)-1].Reason)
	}
}

// TestConcurrentTransitionsSerialize sends the same suspend many times at
// once: the row lock lets exactly one through.
func TestConcurrentTransitionsSerialize(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := mustCreate(t, env, "race", nil)
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/suspend", env.AdminToken, nil).Status
		})
	}
	close(start)
	wg.Wait()
	ok, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Fatalf("statuses %v: want one 200 and %d 409", statuses, n-1)
	}
	suspends := 0
	for _, ev := range events(t, env, l.ID) {
		if ev.Action == "SUSPEND" {
			suspends++
		}
	}
	if suspends != 1 {
		t.Fatalf("%d SUSPEND rows", suspends)
	}
}

func TestPatchUpgradesAndDowngrades(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := mustCreate(t, env, "patchy", map[string]any{"valid_from": "2026-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"})
	path := "/api/licenses/" + l.ID

	r := env.Do(http.MethodPatch, path, env.AdminToken, map[string]any{"max_apps": 50, "maxExecutionsPer24h": 100000, "reason": "upgrade to gold"})
	var up license
	r.Decode(t, &up)
	if r.Status != http.StatusOK || up.MaxApps != 50 || up.MaxExecutionsPer24h != 100000 || up.TenantName != l.TenantName || !up.ValidTo.Equal(l.ValidTo) {
		t.Fatalf("upgrade: %d %s", r.Status, r.Body)
	}
	r = env.Do(http.MethodPatch, path, env.AdminToken, map[string]any{"max_apps": 0, "valid_to": "2028-06-30T00:00:00Z", "tenant_name": "Patchy Ltd"})
	var down license
	r.Decode(t, &down)
	if r.Status != http.StatusOK || down.MaxApps != 0 || down.MaxExecutionsPer24h != 100000 || down.TenantName != "Patchy Ltd" ||
		!down.ValidTo.Equal(time.Date(2028, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("downgrade: %d %s", r.Status, r.Body)
	}
	evs := events(t, env, l.ID)
	upEv, downEv := evs[len(evs)-2], evs[len(evs)-1]
	if upEv.Action != "UPDATE" || upEv.Before["max_apps"] != 3.0 || upEv.After["max_apps"] != 50.0 ||
		upEv.Before["max_executions_per_24h"] != 100.0 || upEv.After["max_executions_per_24h"] != 100000.0 ||
		upEv.Reason == nil || *upEv.Reason != "upgrade to gold" {
		t.Fatalf("upgrade audit %+v", upEv)
	}
	if downEv.Before["max_apps"] != 50.0 || downEv.After["max_apps"] != 0.0 || downEv.Reason != nil ||
		downEv.Before["valid_to"] != "2030-01-01T00:00:00Z" || downEv.After["valid_to"] != "2028-06-30T00:00:00Z" ||
		downEv.After["tenant_name"] != "Patchy Ltd" {
		t.Fatalf("downgrade audit %+v", downEv)
	}

	// Refusals, none of which writes an audit row.
	for _, tc := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"empty", map[string]any{}, []string{"(body)"}},
		{"reason only", map[string]any{"reason": "x"}, []string{"(body)"}},
		{"tenant_id", map[string]any{"tenant_id": "other", "max_apps": 1}, []string{"tenant_id"}},
		{"status", map[string]any{"status": "REVOKED"}, []string{"status"}},
		{"negative", map[string]any{"max_apps": -1}, []string{"max_apps"}},
		{"disagreeing", map[string]any{"max_apps": 1, "maxApps": 2}, []string{"max_apps"}},
		{"both dates inverted", map[string]any{"valid_from": "2031-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"}, []string{"valid_to"}},
		{"valid_from past the stored valid_to", map[string]any{"valid_from": "2029-01-01T00:00:00Z"}, []string{"valid_from"}},
		{"valid_to before the stored valid_from", map[string]any{"valid_to": "2025-01-01T00:00:00Z"}, []string{"valid_to"}},
		{"bad date", map[string]any{"valid_to": "soon"}, []string{"valid_to"}},
	} {
		r := env.Do(http.MethodPatch, path, env.AdminToken, tc.body)
		p := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED")
		if got := p.fields(); !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v: %s", tc.name, got, tc.fields, r.Body)
		}
	}
	if n := len(events(t, env, l.ID)); n != len(evs) {
		t.Fatalf("refused patches wrote %d audit rows", n-len(evs))
	}

	// A revoked license cannot be changed.
	env.Do(http.MethodPost, path+"/revoke", env.AdminToken, nil)
	wantProblem(t, env.Do(http.MethodPatch, path, env.AdminToken, map[string]any{"max_apps": 9}), http.StatusConflict, "INVALID_TRANSITION")
}

func TestUnknownAndMalformedLicenseIDs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	unknown := "/api/licenses/6f1c1a52-0c55-4a41-9d57-5b9e8f1e6a11"
	for _, tc := range []struct{ method, suffix string }{
		{"GET", ""}, {"PATCH", ""}, {"POST", "/suspend"}, {"POST", "/reactivate"}, {"POST", "/revoke"}, {"POST", "/tokens"}, {"GET", "/events"},
	} {
		var body any
		if tc.method == "PATCH" {
			body = map[string]any{"max_apps": 1}
		}
		wantProblem(t, env.Do(tc.method, unknown+tc.suffix, env.AdminToken, body), http.StatusNotFound, "LICENSE_NOT_FOUND")
		p := wantProblem(t, env.Do(tc.method, "/api/licenses/not-a-uuid"+tc.suffix, env.AdminToken, body), http.StatusBadRequest, "VALIDATION_FAILED")
		if f := p.fields(); !slices.Equal(f, []string{"id"}) {
			t.Fatalf("%s %s: fields %v", tc.method, tc.suffix, f)
		}
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ids := map[string]string{}
	for _, tenant := range []string{"t-05", "t-01", "t-04", "t-02", "t-03", "other"} {
		ids[tenant] = mustCreate(t, env, tenant, nil).ID
	}
	env.Do(http.MethodPost, "/api/licenses/"+ids["t-02"]+"/suspend", env.AdminToken, nil)
	env.Do(http.MethodPost, "/api/licenses/"+ids["t-04"]+"/revoke", env.AdminToken, nil)
	mustCreate(t, env, "t-06-future", map[string]any{"valid_from": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})

	list := func(query string) ([]string, *string) {
		t.Helper()
		r := env.Do(http.MethodGet, "/api/licenses"+query, env.AdminToken, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, r.Status, r.Body)
		}
		var page struct {
			Items      []license `json:"items"`
			NextCursor *string   `json:"next_cursor"`
		}
		r.Decode(t, &page)
		var got []string
		for _, l := range page.Items {
			got = append(got, l.TenantID)
		}
		return got, page.NextCursor
	}
	for query, want := range map[string][]string{
		"":                                []string{"other", "t-01", "t-02", "t-03", "t-04", "t-05", "t-06-future"},
		"?status=SUSPENDED":               {"t-02"},
		"?status=REVOKED":                 {"t-04"},
		"?status=ACTIVE":                  {"other", "t-01", "t-03", "t-05", "t-06-future"},
		"?effective_status=ACTIVE":        {"other", "t-01", "t-03", "t-05"},
		"?effective_status=NOT_YET_VALID": {"t-06-future"},
		"?tenant_id=t-03":                 {"t-03"},
		"?tenant_id=t-0":                  nil,
		"?search=T-0&status=ACTIVE":       {"t-01", "t-03", "t-05", "t-06-future"},
		"?search=tenant%20oth":            {"other"},
	} {
		got, next := list(query)
		if !slices.Equal(got, want) || next != nil {
			t.Errorf("%q: %v (next %v), want %v", query, got, next, want)
		}
	}

	// Pages of 2, following next_cursor, visit everything once in order;
	// a license added behind the cursor meanwhile does not shift the pages.
	var all []string
	query := "?limit=2"
	for pages := 0; ; pages++ {
		got, next := list(query)
		all = append(all, got...)
		if pages == 0 {
			mustCreate(t, env, "a-added-later", nil)
		}
		if next == nil {
			break
		}
		query = "?limit=2&cursor=" + *next
	}
	if want := []string{"other", "t-01", "t-02", "t-03", "t-04", "t-05", "t-06-future"}; !slices.Equal(all, want) {
		t.Fatalf("paged %v, want %v", all, want)
	}

	for query, field := range map[string]string{
		"?status=EXPIRED":                     "status",
		"?effective_status=GONE":              "effective_status",
		"?limit=0":                            "limit",
		"?limit=201":                          "limit",
		"?limit=ten":                          "limit",
		"?cursor=!!!":                         "cursor",
		"?cursor=LS0t":                        "cursor",
		"?search=" + strings.Repeat("s", 256): "search",
		"?search=%00":                         "search",
	} {
		r := env.Do(http.MethodGet, "/api/licenses"+query, env.AdminToken, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%q: %d", query, r.Status)
			continue
		}
		if f := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED").fields(); !slices.Equal(f, []string{field}) {
			t.Errorf("%q: fields %v, want [%s]", query, f, field)
		}
	}
}

func TestEventsPage(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := mustCreate(t, env, "eventful", nil) // CREATE, TOKEN_ISSUE
	for range 2 {
		env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/suspend", env.AdminToken, nil)
		env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/reactivate", env.AdminToken, nil)
	}
	var actions []string
	query := "?limit=4"
	for {
		r := env.Do(http.MethodGet, "/api/licenses/"+l.ID+"/events"+query, env.AdminToken, nil)
		var page struct {
			Items      []auditEvent `json:"items"`
			NextCursor *string      `json:"next_cursor"`
		}
		r.Decode(t, &page)
		for _, e := range page.Items {
			actions = append(actions, e.Action)
		}
		if page.NextCursor == nil {
			break
		}
		query = "?limit=4&cursor=" + *page.NextCursor
	}
	want := []string{"CREATE", "TOKEN_ISSUE", "SUSPEND", "REACTIVATE", "SUSPEND", "REACTIVATE"}
	if !slices.Equal(actions, want) {
		t.Fatalf("%v, want %v", actions, want)
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?cursor=-1", "?cursor=abc"} {
		wantProblem(t, env.Do(http.MethodGet, "/api/licenses/"+l.ID+"/events"+q, env.AdminToken, nil), http.StatusBadRequest, "VALIDATION_FAILED")
	}
}

// TestDatesOutsideYears1To9999AreRefused: RFC 3339 writes years 0000 to
// 9999 with any offset, so a date can leave that range once in UTC; such a
// date is a 400 naming its field, never a 500 when the license is rendered.
func TestDatesOutsideYears1To9999AreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "dates-edge", nil)
	base := func(kv ...string) map[string]any {
		b := map[string]any{"tenant_id": "edge", "tenant_name": "Edge", "max_apps": 1, "max_executions_per_24h": 1}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i]] = kv[i+1]
		}
		return b
	}
	const (
		after9999  = "9999-12-31T23:59:59-01:00"
		before0001 = "0000-01-01T00:00:00+01:00"
	)
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"create valid_to after 9999", http.MethodPost, "/api/licenses", base("valid_to", after9999), "valid_to"},
		{"create valid_from before 0001", http.MethodPost, "/api/licenses", base("valid_from", before0001, "valid_to", "2030-01-01T00:00:00Z"), "valid_from"},
		{"create default valid_to after 9999", http.MethodPost, "/api/licenses", base("valid_from", "9999-06-01T00:00:00Z"), "valid_to"},
		{"patch valid_to after 9999", http.MethodPatch, "/api/licenses/" + lic.ID, map[string]any{"valid_to": after9999}, "valid_to"},
		{"patch valid_from before 0001", http.MethodPatch, "/api/licenses/" + lic.ID, map[string]any{"valid_from": before0001}, "valid_from"},
		{"token expires_at after 9999", http.MethodPost, "/api/licenses/" + lic.ID + "/tokens", map[string]any{"expires_at": after9999}, "expires_at"},
	} {
		r := env.Do(tc.method, tc.path, env.AdminToken, tc.body)
		p := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED")
		if !slices.Contains(p.fields(), tc.field) {
			t.Errorf("%s: fields %v, want %s: %s", tc.name, p.fields(), tc.field, r.Body)
		}
	}
	for _, since := range []string{"0000-01-01T00:00:00%2B01:00", "9999-12-31T23:59:59-01:00"} {
		p := wantProblem(t, env.Do(http.MethodGet, "/api/jobs?since="+since, lic.Token, nil), http.StatusBadRequest, "VALIDATION_FAILED")
		if !slices.Equal(p.fields(), []string{"since"}) {
			t.Errorf("since=%s: fields %v", since, p.fields())
		}
	}
	// The edges themselves are fine.
	mustCreate(t, env, "dates-edges-ok", map[string]any{"valid_from": "0001-01-01T00:00:00Z", "valid_to": "9999-12-31T23:59:59Z"})
}

// TestValidationReportsEveryBadField: values of the wrong type are reported
// together with every other bad field, in one 400, with messages that say
// what to send.
func TestValidationReportsEveryBadField(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	messages := func(p problem) map[string]string {
		m := map[string]string{}
		for _, e := range p.Errors {
			m[e.Field] = e.Message
		}
		return m
	}
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken,
		`{"tenant_id":"","tenant_name":"T","max_apps":-1,"max_executions_per_24h":"x","status":"FOO","valid_to":7}`)
	p := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED")
	if got, want := p.fields(), []string{"max_apps", "max_executions_per_24h", "status", "tenant_id", "valid_to"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v: %s", got, want, r.Body)
	}
	if m := messages(p); m["max_executions_per_24h"] != "must be a whole number, not a string" || m["valid_to"] != "must be a string, not a number" {
		t.Errorf("messages %v", m)
	}

	r = env.Do(http.MethodPost, "/api/licenses", env.AdminToken,
		`{"tenant_id":"t","tenant_name":"T","max_apps":1.5,"maxExecutionsPer24h":99999999999999999999}`)
	p = wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED")
	if m := messages(p); len(m) != 2 || m["max_apps"] != "must be a whole number" || m["max_executions_per_24h"] != "out of range" {
		t.Errorf("messages %v: %s", m, r.Body)
	}

	lic := mustCreate(t, env, "every-field", nil)
	r = env.Do(http.MethodPatch, "/api/licenses/"+lic.ID, env.AdminToken, `{"max_apps":"2","tenant_name":" ","status":"ACTIVE"}`)
	if got, want := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED").fields(), []string{"max_apps", "status", "tenant_name"}; !slices.Equal(got, want) {
		t.Errorf("PATCH fields %v, want %v: %s", got, want, r.Body)
	}
	r = env.Do(http.MethodPost, "/api/licenses/"+lic.ID+"/tokens", env.AdminToken, `{"revoke_previous":"yes","expires_at":"soon"}`)
	if got, want := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED").fields(), []string{"expires_at", "revoke_previous"}; !slices.Equal(got, want) {
		t.Errorf("tokens fields %v, want %v: %s", got, want, r.Body)
	}

	r = env.Do(http.MethodGet, "/api/jobs?status=BAD&application_id=zz&since=yesterday&limit=0", lic.Token, nil)
	if got, want := wantProblem(t, r, http.StatusBadRequest, "VALIDATION_FAILED").fields(), []string{"application_id", "limit", "since", "status"}; !slices.Equal(got, want) {
		t.Errorf("GET /api/jobs fields %v, want %v: %s", got, want, r.Body)
	}
	if r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil); strings.Count(string(r.Body), `"tenant_id"`) != 1 {
		t.Fatalf("refused requests created licenses: %s", r.Body)
	}
}
