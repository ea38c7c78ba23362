package api_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
)

// TestBadInputsAreRefusedCleanly sends the table of bad inputs to
// every endpoint that takes input: each gets a documented 4xx problem
// detail (apitest checks api/openapi.yaml), never a 5xx.
func TestBadInputsAreRefusedCleanly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "hostile", nil)
	app := registerApp(t, env, lic.Token, "target")
	jb := startJob(t, env, lic.Token, app.ID)
	admin, tok := env.AdminToken, lic.Token
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	huge := `{"name":"x","metadata":{"blob":"` + strings.Repeat("x", 1<<20) + `"}}`
	bigMeta := func() string {
		var b strings.Builder
		b.WriteString(`{"name":"big","metadata":{`)
		for i := 0; i < 20000; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		b.WriteString(`}}`)
		return b.String()
	}()
	type call struct{ method, path, token string }
	writes := []call{
		{http.MethodPost, "/api/licenses", admin},
		{http.MethodPatch, "/api/licenses/" + lic.ID, admin},
		{http.MethodPost, "/api/apps/register", tok},
		{http.MethodPost, "/api/jobs/start", tok},
		{http.MethodPost, "/api/jobs/finish", tok},
		{http.MethodPost, "/jobs/start", tok},
	}
	bodies := map[string]string{
		"over the size limit": huge,
		"deep nesting":        deep,
		"wrong types":         `{"name":12,"tenant_id":[],"max_apps":"5","application_id":{},"job_id":true,"status":1,"valid_to":5,"revoke_previous":"yes","metadata":"x"}`,
		"invalid UUIDs":       `{"application_id":"not-a-uuid","job_id":"' OR 1=1 --"}`,
		"negative numbers":    `{"tenant_id":"neg","tenant_name":"n","max_apps":-1,"max_executions_per_24h":-5,"cpu_usage":-1,"memory_usage":-1,"job_id":"` + jb.ID + `"}`,
		"huge numbers":        `{"tenant_id":"huge","tenant_name":"h","max_apps":1e300,"max_executions_per_24h":99999999999999999999,"cpu_usage":1e308,"memory_usage":1e400}`,
		"NaN":                 `{"max_apps":NaN,"cpu_usage":NaN}`,
		"dates out of range":  `{"tenant_id":"dates","tenant_name":"d","max_apps":1,"max_executions_per_24h":1,"valid_from":"0000-01-01T00:00:00Z","valid_to":"9999-12-31T23:59:60Z","expires_at":"-001-01-01T00:00:00Z"}`,
		"dates reversed":      `{"tenant_id":"rev","tenant_name":"r","max_apps":1,"max_executions_per_24h":1,"valid_from":"2030-01-01T00:00:00Z","valid_to":"2029-01-01T00:00:00Z"}`,
		"NUL bytes":           `{"tenant_id":"nul\u0000","tenant_name":"a\u0000b","name":"a\u0000b","reason":"\u0000","application_id":"` + app.ID + `","job_id":"` + jb.ID + `","error_message":"\u0000"}`,
		"invalid UTF-8":       "{\"tenant_name\":\"\xff\xfe\",\"name\":\"\xc3\x28\"}",
		"SQL meta-characters": `{"tenant_id":"x'; DROP TABLE licenses; --","tenant_name":"Robert'); DROP TABLE jobs;--","max_apps":1,"max_executions_per_24h":1,"name":"'; DELETE FROM applications; --","application_id":"` + app.ID + `' OR '1'='1"}`,
		"huge metadata":       bigMeta,
		"duplicate keys":      `{"name":"a","name":"b","tenant_id":"dup","tenant_id":"dup2"}`,
		"not an object":       `[1,2,3]`,
		"truncated":           `{"name":`,
		"two documents":       `{} {}`,
	}
	for name, body := range bodies {
		for _, c := range writes {
			r := env.Do(c.method, c.path, c.token, body)
			if r.Status >= 500 || (r.Status < 400 && name != "SQL meta-characters") {
				t.Errorf("%s: %s %s -> %d %.300s", name, c.method, c.path, r.Status, r.Body)
			}
			if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %s %s -> %d is not a problem detail", name, c.method, c.path, r.Status)
			}
		}
	}
	// Endpoints whose bodies are all optional: only bad values are refused.
	for _, path := range []string{"/api/licenses/" + lic.ID + "/tokens", "/api/licenses/" + lic.ID + "/suspend"} {
		for _, body := range []string{`{"revoke_previous":"yes","reason":12}`, `{"expires_at":"yesterday","reason":"\u0000"}`,
			`{"expires_at":"1999-01-01T00:00:00Z","reason":"` + strings.Repeat("r", 5000) + `"}`, deep, huge, `{"reason":"a","reason":"b"}`} {
			if r := env.Do(http.MethodPost, path, admin, body); r.Status < 400 || r.Status >= 500 {
				t.Errorf("POST %s %.60s -> %d %.300s", path, body, r.Status, r.Body)
			}
		}
	}
	for _, c := range writes {
		r := env.Do(c.method, c.path, c.token, "name=x", "Content-Type", "application/x-www-form-urlencoded")
		if r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("wrong content type: %s %s -> %d", c.method, c.path, r.Status)
		}
	}
	for _, c := range []call{
		{http.MethodGet, "/api/licenses/not-a-uuid", admin},
		{http.MethodGet, "/api/licenses/00000000-0000-0000-0000-00000000000g", admin},
		{http.MethodGet, "/api/licenses?limit=-1", admin},
		{http.MethodGet, "/api/licenses?limit=99999999999999999999", admin},
		{http.MethodGet, "/api/licenses?status=%00", admin},
		{http.MethodGet, "/api/licenses?tenant_id=%FF%FE", admin},
		{http.MethodGet, "/api/licenses?cursor=%27%20OR%201%3D1", admin},
		{http.MethodGet, "/api/licenses/" + lic.ID + "/events?cursor=-1", admin},
		{http.MethodGet, "/api/apps/not-a-uuid", tok},
		{http.MethodDelete, "/api/apps/%00", tok},
		{http.MethodGet, "/api/jobs/1;DROP", tok},
		{http.MethodGet, "/api/jobs?since=yesterday", tok},
		{http.MethodGet, "/api/jobs?since=99999-01-01T00:00:00Z", tok},
		{http.MethodGet, "/api/jobs?since=0000-01-01T00:00:00Z", tok},
		{http.MethodGet, "/api/jobs?status=%00&application_id=%FF", tok},
		{http.MethodGet, "/api/jobs?limit=NaN", tok},
		{http.MethodGet, "/api/jobs?cursor=" + strings.Repeat("A", 5000), tok},
	} {
		r := env.Do(c.method, c.path, c.token, nil)
		if r.Status < 400 && !strings.Contains(c.path, "since=0000") {
			t.Errorf("%s %s -> %d %.300s", c.method, c.path, r.Status, r.Body)
		}
		if r.Status >= 500 {
			t.Errorf("%s %s -> %d %.300s", c.method, c.path, r.Status, r.Body)
		}
	}
	// The SQL meta-characters were data, nothing more.
	if r := env.Do(http.MethodGet, "/api/apps/"+app.ID, tok, nil); r.Status != http.StatusOK {
		t.Fatalf("the app is gone: %d", r.Status)
	}
}

// TestTenantIsolationLeaksNothing: with tenant A's token, every read and
// write path on tenant B's applications and jobs answers exactly as for ids
// that do not exist at all, so A learns nothing of B; B's rows are intact.
func TestTenantIsolationLeaksNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := mustCreate(t, env, "iso-a", nil)
	b := mustCreate(t, env, "iso-b", nil)
	appB := registerApp(t, env, b.Token, "secret-app-of-b")
	jobB := startJob(t, env, b.Token, appB.ID)
	const ghost = "7f1d1c9e-0000-4000-8000-000000000000"
	paths := func(app, job string) []struct {
		method, path string
		body         any
	} {
		return []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/api/apps/" + app, nil},
			{http.MethodDelete, "/api/apps/" + app, nil},
			{http.MethodGet, "/api/jobs/" + job, nil},
			{http.MethodPost, "/api/jobs/start", map[string]any{"application_id": app, "name": "x"}},
			{http.MethodPost, "/jobs/start", map[string]any{"application_id": app, "name": "x"}},
			{http.MethodPost, "/api/jobs/finish", map[string]any{"job_id": job, "status": "FAILED"}},
			{http.MethodPost, "/jobs/finish", map[string]any{"job_id": job}},
		}
	}
	shape := func(body []byte, id string) string {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		delete(m, "request_id")
		delete(m, "instance")
		s, _ := json.Marshal(m)
		return strings.ReplaceAll(string(s), id, "ID")
	}
	real, fake := paths(appB.ID, jobB.ID), paths(ghost, ghost)
	for i := range real {
		rb := env.Do(real[i].method, real[i].path, a.Token, real[i].body)
		rg := env.Do(fake[i].method, fake[i].path, a.Token, fake[i].body)
		if rb.Status != http.StatusNotFound {
			t.Errorf("%s %s with A's token: %d %s", real[i].method, real[i].path, rb.Status, rb.Body)
		}
		idB, idG := appB.ID, ghost
		if strings.Contains(real[i].path, "/jobs/") && real[i].method == http.MethodGet || strings.Contains(real[i].path, "finish") {
			idB = jobB.ID
		}
		if rb.Status != rg.Status || shape(rb.Body, idB) != shape(rg.Body, idG) {
			t.Errorf("%s %s: B's id answers %d %s, an unknown id %d %s", real[i].method, real[i].path, rb.Status, rb.Body, rg.Status, rg.Body)
		}
		if strings.Contains(string(rb.Body), "secret-app-of-b") || strings.Contains(string(rb.Body), b.ID) {
			t.Errorf("%s %s leaks B: %s", real[i].method, real[i].path, rb.Body)
		}
	}
	for _, p := range []string{"/api/apps", "/api/jobs", "/api/jobs?application_id=" + appB.ID, "/api/quota"} {
		r := env.Do(http.MethodGet, p, a.Token, nil)
		for _, secret := range []string{appB.ID, jobB.ID, b.ID, "secret-app-of-b", "iso-b"} {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("GET %s with A's token shows %s: %s", p, secret, r.Body)
			}
		}
	}
	// A license token is no admin key.
	if r := env.Do(http.MethodGet, "/api/licenses/"+b.ID, a.Token, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("A's license token on the admin API: %d", r.Status)
	}
	var j job
	env.Do(http.MethodGet, "/api/jobs/"+jobB.ID, b.Token, nil).Decode(t, &j)
	if j.Status != "RUNNING" {
		t.Fatalf("B's job after A's attempts: %+v", j)
	}
	if r := env.Do(http.MethodGet, "/api/apps/"+appB.ID, b.Token, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"is_active":true`) {
		t.Fatalf("B's app after A's attempts: %d %s", r.Status, r.Body)
	}
}

// TestNoSecretsInLogs runs the flows with debug logging and searches the
// logs for the admin token, every license token (and its signature), and
// the signing keys' private bytes in every common encoding.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	lic := mustCreate(t, env, "logged", nil)
	app := registerApp(t, env, lic.Token, "app")
	jb := startJob(t, env, lic.Token, app.ID)
	env.Do(http.MethodPost, "/api/jobs/finish", lic.Token, map[string]any{"job_id": jb.ID})
	r := env.Do(http.MethodPost, "/api/licenses/"+lic.ID+"/tokens", env.AdminToken, map[string]any{"revoke_previous": true})
	var issued struct {
		Token string `json:"token"`
	}
	r.Decode(t, &issued)
	env.Do(http.MethodGet, "/api/quota", lic.Token, nil) // the superseded token, refused
	env.Do(http.MethodGet, "/api/quota", issued.Token+"x", nil)
	env.Do(http.MethodGet, "/api/licenses", env.AdminToken+"-wrong", nil)
	env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil)
	env.Do(http.MethodGet, "/.well-known/jwks.json", "", nil)
	env.Do(http.MethodPost, "/api/licenses/"+lic.ID+"/suspend", env.AdminToken, map[string]any{"reason": "logs"})
	env.Do(http.MethodGet, "/api/quota", issued.Token, nil)

	secrets := map[string]string{"admin token": env.AdminToken}
	for name, tok := range map[string]string{"first license token": lic.Token, "second license token": issued.Token} {
		secrets[name] = tok
		if i := strings.LastIndexByte(tok, '.'); i > 0 {
			secrets[name+" signature"] = tok[i+1:]
		}
	}
	rows, err := env.Owner.Query(context.Background(), "SELECT private_key FROM signing_keys")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var key []byte
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		seed := key
		if len(seed) > 32 {
			seed = seed[:32]
		}
		for _, enc := range []string{hex.EncodeToString(seed), base64.StdEncoding.EncodeToString(seed)[:40], base64.RawURLEncoding.EncodeToString(seed)[:40]} {
			secrets["private key "+enc[:6]] = enc
		}
	}
	if len(secrets) < 6 {
		t.Fatalf("too few secrets to look for: %v", secrets)
	}
	logs := env.Logs.String()
	if !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, "http request") {
		t.Fatalf("no logs to search")
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s", name)
		}
	}
}

// TestBurstOf500 sends 500 concurrent admin requests to a service whose
// admission is small: every answer is 200 or a clean 503 with Retry-After,
// and the service answers normally right after.
func TestBurstOf500(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Config) { c.MaxInFlight = 4; c.MaxQueue = 16 })
	mustCreate(t, env, "burst", nil)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 500; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil)
			ok := r.Status == http.StatusOK || (r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "" &&
				strings.Contains(string(r.Body), `"SERVICE_UNAVAILABLE"`))
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
			if !ok {
				t.Errorf("burst: %d %s", r.Status, r.Body)
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("burst of 500: %v", statuses)
	if statuses[http.StatusOK] == 0 {
		t.Fatal("nothing was served")
	}
	if r := env.Do(http.MethodGet, "/api/licenses", env.AdminToken, nil); r.Status != http.StatusOK {
		t.Fatalf("right after the burst: %d %s", r.Status, r.Body)
	}
}
