package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// checking is a transport that checks every response the CLI receives
// against api/openapi.yaml, as apitest.Env.Do does for the API tests.
type checking struct{ t *testing.T }

func (c checking) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	apitest.CheckResponse(c.t, req, resp.StatusCode, resp.Header, data)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// ctl runs licensectl against env with env vars vars.
type ctl struct {
	t    *testing.T
	env  *apitest.Env
	vars map[string]string
}

func (c ctl) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, func(k string) string { return c.vars[k] }, &http.Client{Transport: checking{c.t}})
	return code, out.String(), errb.String()
}

func (c ctl) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("licensectl %v: exit %d: %s", args, code, errs)
	}
	return out
}

func (c ctl) okJSON(args ...string) map[string]any {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(c.ok(args...)), &m); err != nil {
		c.t.Fatalf("licensectl %v: not JSON: %v", args, err)
	}
	return m
}

func TestLicensectlAgainstTheAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	c := ctl{t: t, env: env, vars: map[string]string{"LICENSING_URL": env.Server.URL, "LICENSING_ADMIN_TOKEN": env.AdminToken}}

	created := c.okJSON("create", "--tenant-id", "acme", "--tenant-name", "Acme Corp", "--max-apps", "5",
		"--max-executions", "1000", "--valid-to", "2036-01-01T00:00:00Z", "--reason", "signed the contract")
	id, _ := created["id"].(string)
	if id == "" || created["token"] == "" || created["max_apps"] != 5.0 || created["valid_to"] != "2036-01-01T00:00:00Z" {
		t.Fatalf("create: %v", created)
	}
	c.okJSON("create", "--tenant-id", "globex", "--tenant-name", "Globex", "--max-apps", "1", "--max-executions", "10", "--status", "SUSPENDED")

	table := c.ok("list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "acme") || !strings.Contains(lines[2], "SUSPENDED") {
		t.Fatalf("list:\n%s", table)
	}
	if out := c.ok("list", "--status", "SUSPENDED"); strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Fatalf("list --status SUSPENDED:\n%s", out)
	}
	code, out, errs := c.run("list", "--limit", "1")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errs, "--cursor") {
		t.Fatalf("list --limit 1: %d\n%s\n%s", code, out, errs)
	}
	all := c.okJSON("list", "--limit", "1", "--all", "--json")
	if items, _ := all["items"].([]any); len(items) != 2 || all["next_cursor"] != nil {
		t.Fatalf("list --all --json: %v", all)
	}

	// By id or by tenant_id.
	if l := c.okJSON("show", id); l["tenant_id"] != "acme" {
		t.Fatalf("show: %v", l)
	}
	if l := c.okJSON("show", "acme"); l["id"] != id {
		t.Fatalf("show acme: %v", l)
	}
	if l := c.okJSON("upgrade", "acme", "--max-apps", "50", "--reason", "gold"); l["max_apps"] != 50.0 || l["max_executions_per_24h"] != 1000.0 {
		t.Fatalf("upgrade: %v", l)
	}
	if l := c.okJSON("downgrade", "--max-executions", "10", id); l["max_executions_per_24h"] != 10.0 || l["max_apps"] != 50.0 {
		t.Fatalf("downgrade: %v", l)
	}
	if l := c.okJSON("suspend", "acme", "--reason", "invoice overdue"); l["status"] != "SUSPENDED" {
		t.Fatalf("suspend: %v", l)
	}
	// A refusal shows the problem's code and detail, exit 1.
	code, _, errs = c.run("suspend", "acme")
	if code != 1 || !strings.Contains(errs, "409 INVALID_TRANSITION") || !strings.Contains(errs, "SUSPENDED") {
		t.Fatalf("suspend twice: %d %s", code, errs)
	}
	if l := c.okJSON("reactivate", "acme"); l["status"] != "ACTIVE" {
		t.Fatalf("reactivate: %v", l)
	}
	tok := c.okJSON("token", "acme", "--revoke-previous")
	if tok["token"] == "" || tok["token_id"] == "" || tok["expires_at"] == nil {
		t.Fatalf("token: %v", tok)
	}
	events := c.okJSON("events", "acme")
	var actions []string
	for _, e := range events["items"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	if got := strings.Join(actions, " "); got != "CREATE TOKEN_ISSUE UPDATE UPDATE SUSPEND REACTIVATE TOKEN_ISSUE" {
		t.Fatalf("events: %s", got)
	}
	if l := c.okJSON("revoke", id, "--reason", "contract ended"); l["status"] != "REVOKED" {
		t.Fatalf("revoke: %v", l)
	}

	// Field errors are listed one per line.
	code, _, errs = c.run("create", "--tenant-id", "-bad", "--tenant-name", "x", "--max-apps", "-1", "--max-executions", "1")
	if code != 1 || !strings.Contains(errs, "VALIDATION_FAILED") || !strings.Contains(errs, "tenant_id: ") || !strings.Contains(errs, "max_apps: ") {
		t.Fatalf("bad create: %d %s", code, errs)
	}
	code, _, errs = c.run("show", "nobody")
	if code != 1 || !strings.Contains(errs, `"nobody"`) {
		t.Fatalf("unknown tenant: %d %s", code, errs)
	}
	code, _, errs = c.run("show", "6f1c1a52-0c55-4a41-9d57-5b9e8f1e6a11")
	if code != 1 || !strings.Contains(errs, "404 LICENSE_NOT_FOUND") {
		t.Fatalf("unknown id: %d %s", code, errs)
	}
	// Usage mistakes exit 2 with the usage.
	for _, args := range [][]string{{}, {"frobnicate"}, {"show"}, {"suspend", "a", "b"}, {"create", "--max-apps", "many"}, {"list", "extra"}} {
		if code, _, errs := c.run(args...); code != 2 || !strings.Contains(errs, "usage:") {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
}

func TestLicensectlFindsItsToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	// No token at all: 401, with a hint.
	c := ctl{t: t, env: env, vars: map[string]string{"LICENSING_DATA_DIR": t.TempDir()}}
	code, _, errs := c.run("--url", env.Server.URL, "list")
	if code != 1 || !strings.Contains(errs, "401 UNAUTHORIZED") || !strings.Contains(errs, "--token") {
		t.Fatalf("no token: %d %s", code, errs)
	}
	// A wrong --token wins over a right environment.
	c.vars["LICENSING_ADMIN_TOKEN"] = env.AdminToken
	if code, _, errs := c.run("--url", env.Server.URL, "--token", "wrong", "list"); code != 1 || !strings.Contains(errs, "UNAUTHORIZED") {
		t.Fatalf("--token wrong: %d %s", code, errs)
	}
	c.ok("--url", env.Server.URL, "list")
	// The dev-mode token file.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(env.AdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.vars = map[string]string{"LICENSING_DATA_DIR": dir, "LICENSING_URL": env.Server.URL + "/"}
	c.ok("list")
	// No server: a clear network error, exit 1.
	code, _, errs = c.run("--url", "http://127.0.0.1:1", "list")
	if code != 1 || !strings.Contains(errs, "127.0.0.1:1") {
		t.Fatalf("no server: %d %s", code, errs)
	}
}
