package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/api"
	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/quota"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each 303 and where it points.
type browser struct {
	t    *testing.T
	env  *apitest.Env
	c    *http.Client
	csrf string
}

// page is one response of the console.
type page struct {
	Status   int
	Location string
	Header   http.Header
	Body     string
}

func newBrowser(t *testing.T, env *apitest.Env) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, env: env, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Header: resp.Header, Body: string(body)}
	if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	if ct := resp.Header.Get("Content-Type"); p.Status != http.StatusSeeOther && strings.HasPrefix(req.URL.Path, "/console/") &&
		!strings.HasPrefix(req.URL.Path, "/console/static/") && ct != "text/html; charset=utf-8" {
		b.t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	return p
}

// get loads path.
func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.env.Server.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form to path with the CSRF token of the last page loaded.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" && b.csrf != "" {
		form.Set("csrf_token", b.csrf)
	}
	return b.postRaw(path, form)
}

// postRaw submits form as it is.
func (b *browser) postRaw(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.env.Server.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn signs in with the env's admin token.
func (b *browser) signIn() {
	b.t.Helper()
	b.get("/console/signin")
	p := b.post("/console/signin", url.Values{"key": {b.env.AdminToken}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/licenses" {
		b.t.Fatalf("sign-in: %d to %q: %s", p.Status, p.Location, p.Body)
	}
}

// must fails the test unless p has status and its body has every want.
func must(t *testing.T, p page, status int, want ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.Status, status, p.Body)
	}
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("page lacks %q; body:\n%s", w, p.Body)
		}
	}
}

// fieldError returns the message shown next to field name, "" for none.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`<p class="error" id="` + regexp.QuoteMeta(name) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// license is what the admin API returns for a license.
type license struct {
	ID              string `json:"id"`
	TenantID        string `json:"tenant_id"`
	Status          string `json:"status"`
	EffectiveStatus string `json:"effective_status"`
	MaxApps         int    `json:"max_apps"`
	Token           string `json:"token"`
}

// createLicense creates a license through the admin API (the same
// operation the console calls).
func createLicense(t *testing.T, env *apitest.Env, tenant string, body map[string]any) license {
	t.Helper()
	req := map[string]any{
		"tenant_id": tenant, "tenant_name": "Tenant " + tenant, "max_apps": 3, "max_executions_per_24h": 10,
		"valid_from": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"valid_to":   time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339),
	}
	for k, v := range body {
		req[k] = v
	}
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, req)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", tenant, r.Status, r.Body)
	}
	var l license
	r.Decode(t, &l)
	return l
}

// getLicense reads a license through the admin API.
func getLicense(t *testing.T, env *apitest.Env, id string) license {
	t.Helper()
	r := env.Do(http.MethodGet, "/api/licenses/"+id, env.AdminToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, r.Status, r.Body)
	}
	var l license
	r.Decode(t, &l)
	return l
}

// licenseIDFrom finds the license id in a console page's links.
func licenseIDFrom(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`/console/licenses/([0-9a-f-]{36})`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no license link in:\n%s", body)
	}
	return m[1]
}

var tokenRE = regexp.MustCompile(`<textarea id="token"[^>]*>([^<]+)</textarea>`)

// tokenFrom reads the token shown once on a token page.
func tokenFrom(t *testing.T, body string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token on the page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

func TestPagesRedirectToSignInWithoutASession(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "redirect", nil)
	b := newBrowser(t, env)
	for _, path := range []string{
		"/console/licenses", "/console/licenses?status=ACTIVE", "/console/licenses/new",
		"/console/licenses/" + l.ID, "/console/licenses/" + l.ID + "/edit",
	} {
		p := b.get(path)
		if want := "/console/signin?next=" + url.QueryEscape(path); p.Status != http.StatusSeeOther || p.Location != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", path, p.Status, p.Location, want)
		}
	}
	if p := b.get("/console"); p.Status != http.StatusSeeOther || p.Location != "/console/licenses" {
		t.Errorf("GET /console: %d to %q", p.Status, p.Location)
	}
	// Forms with a valid CSRF token but no session go to the sign-in page
	// and change nothing.
	must(t, b.get("/console/signin"), http.StatusOK, `name="key"`)
	for _, path := range []string{
		"/console/licenses", "/console/licenses/" + l.ID + "/edit", "/console/licenses/" + l.ID + "/suspend",
		"/console/licenses/" + l.ID + "/reactivate", "/console/licenses/" + l.ID + "/revoke", "/console/licenses/" + l.ID + "/tokens",
	} {
		p := b.post(path, url.Values{"confirm": {"yes"}, "tenant_id": {"x"}})
		if p.Status != http.StatusSeeOther || p.Location != "/console/signin" {
			t.Errorf("POST %s: %d to %q, want 303 to /console/signin", path, p.Status, p.Location)
		}
	}
	if got := getLicense(t, env, l.ID).Status; got != "ACTIVE" {
		t.Errorf("status %s after unauthenticated posts", got)
	}
	// A forged session cookie is no session.
	u, _ := url.Parse(env.Server.URL + "/console/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "console_session", Value: "forged", Path: "/console"}})
	if p := b.get("/console/licenses"); p.Status != http.StatusSeeOther {
		t.Errorf("forged session: %d", p.Status)
	}
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	b := newBrowser(t, env)

	p := b.get("/console/signin?next=" + url.QueryEscape("/console/licenses/new"))
	must(t, p, http.StatusOK, `name="csrf_token"`, `value="/console/licenses/new"`)
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}

	p = b.post("/console/signin", url.Values{"key": {""}})
	must(t, p, http.StatusBadRequest)
	if msg := fieldError(p.Body, "key"); msg != "Enter your admin key." {
		t.Errorf("empty key message %q", msg)
	}
	p = b.post("/console/signin", url.Values{"key": {"wrong-key-wrong-key"}, "next": {"/console/licenses/new"}})
	must(t, p, http.StatusUnauthorized)
	if msg := fieldError(p.Body, "key"); msg != "This admin key is not valid." {
		t.Errorf("wrong key message %q", msg)
	}
	if strings.Contains(p.Body, "wrong-key-wrong-key") {
		t.Error("the refused key is echoed into the page")
	}
	if strings.Contains(env.Logs.String(), "wrong-key-wrong-key") {
		t.Error("the refused key is in the logs")
	}

	p = b.post("/console/signin", url.Values{"key": {env.AdminToken}, "next": {"/console/licenses/new"}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/licenses/new" {
		t.Fatalf("sign-in: %d to %q", p.Status, p.Location)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == "console_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/console" || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console, not Secure over plain HTTP", session)
	}
	if strings.Contains(session.Value, env.AdminToken) {
		t.Fatal("the session cookie holds the admin key in clear")
	}
	if strings.Contains(env.Logs.String(), env.AdminToken) {
		t.Fatal("the admin key is in the logs")
	}
	must(t, b.get("/console/licenses"), http.StatusOK, "<h1>Licenses</h1>", "Sign out")
	// A signed-in admin skips the sign-in page.
	if p := b.get("/console/signin"); p.Status != http.StatusSeeOther || p.Location != "/console/licenses" {
		t.Errorf("sign-in page when signed in: %d to %q", p.Status, p.Location)
	}

	p = b.post("/console/signout", nil)
	if p.Status != http.StatusSeeOther || p.Location != "/console/signin?signed_out=1" {
		t.Fatalf("sign-out: %d to %q", p.Status, p.Location)
	}
	must(t, b.get("/console/signin?signed_out=1"), http.StatusOK, "You are signed out.")
	if p := b.get("/console/licenses"); p.Status != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", p.Status)
	}
}

func TestSignInRefusesOffsiteRedirects(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/api/licenses", "/console/../api", `/console\evil`, "/console/signin"} {
		b := newBrowser(t, env)
		b.get("/console/signin")
		p := b.post("/console/signin", url.Values{"key": {env.AdminToken}, "next": {next}})
		if p.Status != http.StatusSeeOther || p.Location != "/console/licenses" {
			t.Errorf("next=%q: %d to %q, want /console/licenses", next, p.Status, p.Location)
		}
	}
}

func TestStoredAdminKeySessionsEndWhenTheKeyIsRevoked(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	key, revoke := storedAdminKey(t, env, "ops-alice")
	b := newBrowser(t, env)
	b.get("/console/signin")
	p := b.post("/console/signin", url.Values{"key": {key}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in with a stored key: %d %s", p.Status, p.Body)
	}
	must(t, b.get("/console/licenses"), http.StatusOK, "ops-alice")
	revoke()
	if p := b.get("/console/licenses"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/signin") {
		t.Fatalf("after the key was revoked: %d to %q", p.Status, p.Location)
	}
}

func TestFormsRefuseAMissingOrForeignCSRFToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "csrf", nil)

	// Sign-in itself is protected (login CSRF).
	anon := newBrowser(t, env)
	anon.get("/console/signin")
	must(t, anon.postRaw("/console/signin", url.Values{"key": {env.AdminToken}}), http.StatusForbidden, "This form has expired")

	b := newBrowser(t, env)
	b.signIn()
	b.get("/console/licenses/new")
	other := newBrowser(t, env)
	other.get("/console/signin")
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"missing", url.Values{}},
		{"wrong", url.Values{"csrf_token": {"AAAA" + strings.Repeat("x", 60)}}},
		{"another browser's", url.Values{"csrf_token": {other.csrf}}},
	} {
		for _, path := range []string{
			"/console/licenses", "/console/licenses/" + l.ID + "/edit", "/console/licenses/" + l.ID + "/suspend",
			"/console/licenses/" + l.ID + "/reactivate", "/console/licenses/" + l.ID + "/revoke",
			"/console/licenses/" + l.ID + "/tokens", "/console/signout",
		} {
			f := url.Values{"confirm": {"yes"}, "tenant_id": {"csrf-made"}, "tenant_name": {"x"}, "max_apps": {"1"},
				"max_executions_per_24h": {"1"}, "valid_from": {"2030-01-01T00:00"}, "valid_to": {"2031-01-01T00:00"}}
			for k, v := range tc.form {
				f[k] = v
			}
			p := b.postRaw(path, f)
			must(t, p, http.StatusForbidden, "This form has expired")
		}
	}
	// A cross-site Origin is refused even with the right token.
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/console/licenses/"+l.ID+"/suspend",
		strings.NewReader(url.Values{"csrf_token": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	must(t, b.do(req), http.StatusForbidden)

	if got := getLicense(t, env, l.ID).Status; got != "ACTIVE" {
		t.Fatalf("status %s after refused forms", got)
	}
	if r := env.Do(http.MethodGet, "/api/licenses?tenant_id=csrf-made", env.AdminToken, nil); strings.Contains(string(r.Body), "csrf-made") {
		t.Fatalf("a refused form created a license: %s", r.Body)
	}
	// The session survived: signing out needed the token too.
	must(t, b.get("/console/licenses"), http.StatusOK)
}

func TestCreateLicenseForm(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	createLicense(t, env, "taken", nil)
	b := newBrowser(t, env)
	b.signIn()
	p := b.get("/console/licenses/new")
	must(t, p, http.StatusOK, `name="tenant_id"`, `name="max_apps"`, `name="valid_to"`)

	valid := url.Values{
		"tenant_id": {"console-made"}, "tenant_name": {"Made in the console"}, "max_apps": {"2"},
		"max_executions_per_24h": {"100"}, "valid_from": {"2026-01-01T00:00"}, "valid_to": {"2036-01-01T00:00"},
	}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range valid {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		field  string
	}{
		{"empty", url.Values{}, http.StatusBadRequest, "tenant_id"},
		{"no name", with("tenant_name", ""), http.StatusBadRequest, "tenant_name"},
		{"not a number", with("max_apps", "lots"), http.StatusBadRequest, "max_apps"},
		{"negative", with("max_executions_per_24h", "-1"), http.StatusBadRequest, "max_executions_per_24h"},
		{"bad date", with("valid_from", "yesterday"), http.StatusBadRequest, "valid_from"},
		{"dates reversed", with("valid_to", "2025-01-01T00:00"), http.StatusBadRequest, "valid_to"},
		{"bad tenant id", with("tenant_id", "no spaces please"), http.StatusBadRequest, "tenant_id"},
		{"tenant taken", with("tenant_id", "taken"), http.StatusConflict, "tenant_id"},
	} {
		p := b.post("/console/licenses", tc.form)
		if p.Status != tc.status {
			t.Errorf("%s: status %d, want %d:\n%s", tc.name, p.Status, tc.status, p.Body)
			continue
		}
		if msg := fieldError(p.Body, tc.field); msg == "" {
			t.Errorf("%s: no message next to %s:\n%s", tc.name, tc.field, p.Body)
		}
		// The form keeps what was typed.
		if v := tc.form.Get("tenant_name"); v != "" && !strings.Contains(p.Body, `value="`+html.EscapeString(v)+`"`) {
			t.Errorf("%s: the form lost tenant_name", tc.name)
		}
	}

	p = b.post("/console/licenses", valid)
	must(t, p, http.StatusCreated, "License created", "Copy this token now", `data-copy="token"`)
	token := tokenFrom(t, p.Body)
	id := licenseIDFrom(t, p.Body)
	l := getLicense(t, env, id)
	if l.TenantID != "console-made" || l.MaxApps != 2 || l.Status != "ACTIVE" {
		t.Fatalf("created %+v", l)
	}
	// The token shown is a working license token.
	if code := tokenRefusal(t, env, token); code != "" {
		t.Fatalf("the shown token is refused: %s", code)
	}
	// The audit trail names the console's admin.
	r := env.Do(http.MethodGet, "/api/licenses/"+id+"/events", env.AdminToken, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"CREATE"`) {
		t.Fatalf("events: %d %s", r.Status, r.Body)
	}
}

func TestLicensesListSearchFilterAndPages(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for i := range 27 {
		createLicense(t, env, fmt.Sprintf("bulk-%02d", i), nil)
	}
	acme := createLicense(t, env, "acme", map[string]any{"tenant_name": "Acme Corporation", "max_apps": 5, "max_executions_per_24h": 100})
	createLicense(t, env, "next-year", map[string]any{
		"valid_from": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339),
		"valid_to":   time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339),
	})
	susp := createLicense(t, env, "paused", nil)
	if r := env.Do(http.MethodPost, "/api/licenses/"+susp.ID+"/suspend", env.AdminToken, map[string]any{}); r.Status != http.StatusOK {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	// Some usage for acme: one app, two jobs.
	startJobs(t, env, acme.ID, registerApp(t, env, acme.ID, "billing"), 2)

	b := newBrowser(t, env)
	b.signIn()
	rows := regexp.MustCompile(`<tr>\s*<td data-label="Tenant">`)

	p := b.get("/console/licenses")
	must(t, p, http.StatusOK, "Next page")
	if n := len(rows.FindAllString(p.Body, -1)); n != 25 {
		t.Fatalf("first page has %d rows, want 25", n)
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.Body)
	if next == nil {
		t.Fatal("no next link")
	}
	p = b.get(html.UnescapeString(next[1]))
	must(t, p, http.StatusOK, "First page")
	if n := len(rows.FindAllString(p.Body, -1)); n != 5 {
		t.Fatalf("second page has %d rows, want 5", n)
	}

	p = b.get("/console/licenses?tenant=ACME")
	must(t, p, http.StatusOK, "Acme Corporation", "1 / 5", "2 / 100")
	if n := len(rows.FindAllString(p.Body, -1)); n != 1 {
		t.Fatalf("search acme: %d rows", n)
	}
	p = b.get("/console/licenses?tenant=corporation")
	must(t, p, http.StatusOK, "acme")

	p = b.get("/console/licenses?status=SUSPENDED")
	must(t, p, http.StatusOK, "paused")
	if n := len(rows.FindAllString(p.Body, -1)); n != 1 {
		t.Fatalf("status=SUSPENDED: %d rows", n)
	}
	p = b.get("/console/licenses?effective_status=NOT_YET_VALID")
	must(t, p, http.StatusOK, "next-year", `<span class="badge not_yet_valid">NOT_YET_VALID</span>`)
	if n := len(rows.FindAllString(p.Body, -1)); n != 1 {
		t.Fatalf("effective_status=NOT_YET_VALID: %d rows", n)
	}
	p = b.get("/console/licenses?status=ACTIVE&effective_status=NOT_YET_VALID")
	must(t, p, http.StatusOK, "next-year")
	must(t, b.get("/console/licenses?effective_status=EXPIRED"), http.StatusOK, "No licenses match.")
	must(t, b.get("/console/licenses?tenant=nobody-at-all"), http.StatusOK, "No licenses match.")

	must(t, b.get("/console/licenses?status=BOGUS"), http.StatusBadRequest, "Unknown status")
	must(t, b.get("/console/licenses?effective_status=BOGUS"), http.StatusBadRequest, "Unknown effective status")
	must(t, b.get("/console/licenses?cursor=%21%21not-a-cursor"), http.StatusBadRequest, "cursor")
}

func TestLicenseDetailPage(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "detail", map[string]any{"tenant_name": "Detail & Sons", "max_apps": 4, "max_executions_per_24h": 3})
	startJobs(t, env, l.ID, registerApp(t, env, l.ID, "worker"), 3)
	b := newBrowser(t, env)
	b.signIn()
	p := b.get("/console/licenses/" + l.ID)
	must(t, p, http.StatusOK,
		"<h1>Detail &amp; Sons</h1>", l.ID,
		`1 <small>of 4</small>`, `3 <small>of 3</small>`,
		`<svg class="chart"`, "Executions per hour, last 24 hours: 3 of 3 allowed",
		"oldest execution leaves the window",
		`class="action-name create">CREATE</span>`, "by <strong>env</strong>",
		`action="/console/licenses/`+l.ID+`/suspend"`, `action="/console/licenses/`+l.ID+`/tokens"`,
	)
	// The window is full: the next slot is in about 24 hours, not now.
	if strings.Contains(p.Body, `<span class="value">now</span>`) {
		t.Error("a full window shows a free slot now")
	}
	if n := strings.Count(p.Body, `<rect class="bar`); n != 1 {
		t.Errorf("%d bars, want 1 (all three starts in the last hour)", n)
	}

	// A downgrade below the usage: the hour that went over is marked.
	if r := env.Do(http.MethodPatch, "/api/licenses/"+l.ID, env.AdminToken, map[string]any{"max_executions_per_24h": 2}); r.Status != http.StatusOK {
		t.Fatalf("downgrade: %d %s", r.Status, r.Body)
	}
	must(t, b.get("/console/licenses/"+l.ID), http.StatusOK, `<rect class="bar over"`, "3 of 2 allowed", `3 <small>of 2</small>`)

	must(t, b.get("/console/licenses/00000000-0000-0000-0000-000000000000"), http.StatusNotFound)
	p = b.get("/console/licenses/not-a-uuid")
	if p.Status != http.StatusNotFound && p.Status != http.StatusBadRequest {
		t.Fatalf("bad id: %d", p.Status)
	}
}

func TestEditLicenseForm(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "edit-me", map[string]any{"max_apps": 2, "max_executions_per_24h": 100})
	b := newBrowser(t, env)
	b.signIn()
	p := b.get("/console/licenses/" + l.ID + "/edit")
	must(t, p, http.StatusOK, `name="max_apps" type="number" value="2"`, `name="reason"`)
	vf := regexp.MustCompile(`name="valid_from" type="datetime-local" value="([^"]+)"`).FindStringSubmatch(p.Body)
	vt := regexp.MustCompile(`name="valid_to" type="datetime-local" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if vf == nil || vt == nil {
		t.Fatalf("dates not filled in:\n%s", p.Body)
	}
	form := func(apps, execs, to, reason string) url.Values {
		return url.Values{"max_apps": {apps}, "max_executions_per_24h": {execs}, "valid_from": {vf[1]}, "valid_to": {to}, "reason": {reason}}
	}

	p = b.post("/console/licenses/"+l.ID+"/edit", form("2", "100", vt[1], ""))
	must(t, p, http.StatusBadRequest, "Nothing changed")
	p = b.post("/console/licenses/"+l.ID+"/edit", form("two", "100", vt[1], ""))
	must(t, p, http.StatusBadRequest)
	if fieldError(p.Body, "max_apps") == "" {
		t.Errorf("no message next to max_apps:\n%s", p.Body)
	}
	p = b.post("/console/licenses/"+l.ID+"/edit", form("2", "100", "2001-01-01T00:00", ""))
	must(t, p, http.StatusBadRequest)
	if fieldError(p.Body, "valid_to") == "" {
		t.Errorf("no message next to valid_to:\n%s", p.Body)
	}
	p = b.post("/console/licenses/"+l.ID+"/edit", form("2", "100", vt[1], strings.Repeat("r", 1001)))
	must(t, p, http.StatusBadRequest)

	p = b.post("/console/licenses/"+l.ID+"/edit", form("10", "5000", vt[1], "upgrade to pro"))
	if p.Status != http.StatusSeeOther || p.Location != "/console/licenses/"+l.ID+"?done=updated" {
		t.Fatalf("update: %d to %q:\n%s", p.Status, p.Location, p.Body)
	}
	p = b.get(p.Location)
	must(t, p, http.StatusOK, "Limits and dates saved.", `class="action-name update">UPDATE</span>`, "“upgrade to pro”",
		`<tr class="changed"><th scope="row">max_apps</th><td>2</td><td>10</td></tr>`,
		`<tr class="changed"><th scope="row">max_executions_per_24h</th><td>100</td><td>5000</td></tr>`)
	if got := getLicense(t, env, l.ID).MaxApps; got != 10 {
		t.Fatalf("max_apps %d after the upgrade", got)
	}
	// Only what changed is recorded: the dates were sent unchanged.
	if strings.Contains(p.Body, `<tr class="changed"><th scope="row">valid_to</th>`) {
		t.Error("an unchanged date was recorded as changed")
	}
	must(t, b.get("/console/licenses/00000000-0000-0000-0000-000000000000/edit"), http.StatusNotFound)
}

func TestLifecycleForms(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "cycle", nil)
	b := newBrowser(t, env)
	b.signIn()
	b.get("/console/licenses/" + l.ID)
	base := "/console/licenses/" + l.ID

	p := b.post(base+"/suspend", url.Values{"reason": {"unpaid invoice"}})
	if p.Status != http.StatusSeeOther || p.Location != base+"?done=suspended" {
		t.Fatalf("suspend: %d to %q:\n%s", p.Status, p.Location, p.Body)
	}
	must(t, b.get(p.Location), http.StatusOK, "License suspended.", "“unpaid invoice”", `action="`+base+`/reactivate"`)
	if code := tokenRefusal(t, env, l.Token); code != licensing.CodeLicenseSuspended {
		t.Fatalf("token of a suspended license: %q", code)
	}
	// Suspending twice is refused with the service's message.
	p = b.post(base+"/suspend", nil)
	must(t, p, http.StatusConflict, `class="alert"`)

	p = b.post(base+"/reactivate", url.Values{"reason": {"paid"}})
	if p.Status != http.StatusSeeOther || p.Location != base+"?done=reactivated" {
		t.Fatalf("reactivate: %d to %q", p.Status, p.Location)
	}
	if code := tokenRefusal(t, env, l.Token); code != "" {
		t.Fatalf("token after reactivation: %s", code)
	}
	p = b.post(base+"/suspend", url.Values{"reason": {strings.Repeat("x", 1001)}})
	must(t, p, http.StatusBadRequest)

	// Revoking needs the confirmation box.
	p = b.post(base+"/revoke", url.Values{"reason": {"contract ended"}})
	must(t, p, http.StatusBadRequest, "The license was not revoked.")
	if fieldError(p.Body, "confirm") == "" {
		t.Errorf("no message next to the confirmation box:\n%s", p.Body)
	}
	if got := getLicense(t, env, l.ID).Status; got != "ACTIVE" {
		t.Fatalf("status %s after an unconfirmed revoke", got)
	}
	p = b.post(base+"/revoke", url.Values{"reason": {"contract ended"}, "confirm": {"yes"}})
	if p.Status != http.StatusSeeOther || p.Location != base+"?done=revoked" {
		t.Fatalf("revoke: %d to %q", p.Status, p.Location)
	}
	p = b.get(p.Location)
	must(t, p, http.StatusOK, "License revoked.", `<span class="badge revoked">REVOKED</span>`, "no starts while revoked")
	if strings.Contains(p.Body, `action="`+base+`/reactivate"`) || strings.Contains(p.Body, `action="`+base+`/tokens"`) {
		t.Error("a revoked license still offers actions")
	}
	if code := tokenRefusal(t, env, l.Token); code != licensing.CodeLicenseRevoked {
		t.Fatalf("token of a revoked license: %q", code)
	}
	// Reactivating a revoked license is refused (a stale page could send it).
	p = b.post(base+"/reactivate", nil)
	must(t, p, http.StatusConflict, `class="alert"`)
	p = b.post("/console/licenses/00000000-0000-0000-0000-000000000000/suspend", nil)
	must(t, p, http.StatusNotFound)
}

func TestIssueTokenForm(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := createLicense(t, env, "tokens", nil)
	b := newBrowser(t, env)
	b.signIn()
	b.get("/console/licenses/" + l.ID)

	p := b.post("/console/licenses/"+l.ID+"/tokens", nil)
	must(t, p, http.StatusCreated, "New token", "Copy this token now")
	second := tokenFrom(t, p.Body)
	for _, tok := range []string{l.Token, second} {
		if code := tokenRefusal(t, env, tok); code != "" {
			t.Fatalf("token before revoke_previous: %s", code)
		}
	}
	p = b.post("/console/licenses/"+l.ID+"/tokens", url.Values{"revoke_previous": {"yes"}})
	must(t, p, http.StatusCreated, "Every earlier token of this license has stopped working.")
	third := tokenFrom(t, p.Body)
	if code := tokenRefusal(t, env, third); code != "" {
		t.Fatalf("new token: %s", code)
	}
	for _, tok := range []string{l.Token, second} {
		if code := tokenRefusal(t, env, tok); code != licensing.CodeInvalidToken {
			t.Fatalf("earlier token after revoke_previous: %q", code)
		}
	}
	// The token is shown once: it is not on the license page.
	p = b.get("/console/licenses/" + l.ID)
	must(t, p, http.StatusOK, `class="action-name token_issue">TOKEN_ISSUE</span>`)
	if strings.Contains(p.Body, third) {
		t.Fatal("the token appears on the license page")
	}
	must(t, b.post("/console/licenses/00000000-0000-0000-0000-000000000000/tokens", nil), http.StatusNotFound)
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	b := newBrowser(t, env)
	for path, want := range map[string]string{"/console/static/console.css": "text/css", "/console/static/console.js": "javascript"} {
		p := b.get(path)
		if p.Status != http.StatusOK || !strings.Contains(p.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %d %q", path, p.Status, p.Header.Get("Content-Type"))
		}
	}
}

// storedAdminKey makes an admin key stored (hashed) in the database, as
// `licensingd admin create-key` does, and returns it with a function that
// revokes it.
func storedAdminKey(t *testing.T, env *apitest.Env, name string) (string, func()) {
	t.Helper()
	key, _, err := env.App.Admin.CreateKey(context.Background(), name)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return key, func() {
		t.Helper()
		if _, err := env.App.Admin.RevokeKey(context.Background(), name); err != nil {
			t.Fatalf("revoke key: %v", err)
		}
	}
}

func TestCookiesAreSecureBehindATLSProxy(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	host := strings.TrimPrefix(env.Server.URL, "http://")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, origin string, cookies []*http.Cookie, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, env.Server.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("X-Forwarded-Proto", "https")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := send(http.MethodGet, "/console/signin", "", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	m := csrfRE.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no CSRF field: %s", body)
	}
	token := html.UnescapeString(m[1])
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "console_csrf" || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie %+v: want Secure, HttpOnly, SameSite=Strict", cookies)
	}
	form := url.Values{"key": {env.AdminToken}, "csrf_token": {token}}
	// Over HTTPS, a plain-HTTP Origin is another origin.
	if r := send(http.MethodPost, "/console/signin", "http://"+host, cookies, form); r.StatusCode != http.StatusForbidden {
		t.Fatalf("http Origin over https: %d", r.StatusCode)
	}
	r := send(http.MethodPost, "/console/signin", "https://"+host, cookies, form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in over https: %d", r.StatusCode)
	}
	for _, c := range r.Cookies() {
		if c.Name == "console_session" && !c.Secure {
			t.Fatalf("session cookie over https is not Secure: %+v", c)
		}
	}
}

// tokenRefusal makes a license-token call (GET /api/quota) with token: ""
// when it is admitted, else the refusal's code (LICENSE_SUSPENDED with 403,
// INVALID_TOKEN with 401, ...).
func tokenRefusal(t *testing.T, env *apitest.Env, token string) licensing.Code {
	t.Helper()
	r := env.Do(http.MethodGet, "/api/quota", token, nil)
	if r.Status == http.StatusOK {
		return ""
	}
	code := licensing.Code(fmt.Sprint(r.JSON(t)["code"]))
	if want := api.StatusOf(code); r.Status != want {
		t.Fatalf("GET /api/quota: %d with code %s, want %d", r.Status, code, want)
	}
	return code
}

// registerApp registers an application for the license through the quota
// service and returns its id.
func registerApp(t *testing.T, env *apitest.Env, licenseID, name string) string {
	t.Helper()
	out, err := env.App.Quota.RegisterApp(context.Background(), uuid.MustParse(licenseID), "", quota.RegisterRequest{Name: name})
	if err != nil || out.Status != http.StatusCreated {
		t.Fatalf("register %s: %v %d %s", name, err, out.Status, out.Body)
	}
	var app struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out.Body, &app); err != nil {
		t.Fatal(err)
	}
	return app.ID
}

// startJobs starts n jobs of the application through the quota service.
func startJobs(t *testing.T, env *apitest.Env, licenseID, appID string, n int) {
	t.Helper()
	for range n {
		out, err := env.App.Quota.StartJob(context.Background(), uuid.MustParse(licenseID), "", quota.StartRequest{ApplicationID: appID, Name: "run"})
		if err != nil || out.Status != http.StatusCreated {
			t.Fatalf("start: %v %d %s", err, out.Status, out.Body)
		}
	}
}

// TestSignInFailuresAreLimited: the sign-in form shares the admin API's
// limit on failed authentications: after the configured failures the
// address is refused with 429 and Retry-After, even with the right key.
func TestSignInFailuresAreLimited(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Config) { c.AdminAuthMaxFailures = 2 })
	b := newBrowser(t, env)
	b.get("/console/signin")
	for i := 0; i < 2; i++ {
		if p := b.post("/console/signin", url.Values{"key": {"wrong-key-wrong-key"}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d", i, p.Status)
		}
	}
	// The refusal is a problem detail (the limiter answers before the form).
	resp, err := b.c.PostForm(env.Server.URL+"/console/signin", url.Values{"key": {env.AdminToken}, "csrf_token": {b.csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right key after 2 failures: %d, want 429 with Retry-After", resp.StatusCode)
	}
	// The admin API shares the count.
	if r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("admin API after the console's failures: %d", r.Status)
	}
}
