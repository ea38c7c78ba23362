package api_test

import (
	"net/http"
	"testing"

	"github.com/licensing-service/licensing/internal/apitest"
)

// FuzzQuotaBodies sends arbitrary bodies to the three quota POSTs (and one
// bare-path alias): whatever comes in, the answer is documented in
// api/openapi.yaml and never a 5xx. The seeds run in every `go test`.
func FuzzQuotaBodies(f *testing.F) {
	env := apitest.New(f)
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{
		"tenant_id": "fuzz-quota", "tenant_name": "Fuzz", "max_apps": 1000000, "max_executions_per_24h": 1000000,
	})
	if r.Status != http.StatusCreated {
		f.Fatalf("seed license: %d %s", r.Status, r.Body)
	}
	token := r.JSON(f)["token"].(string)
	r = env.Do(http.MethodPost, "/api/apps/register", token, map[string]any{"name": "seed"})
	if r.Status != http.StatusCreated {
		f.Fatalf("seed app: %d %s", r.Status, r.Body)
	}
	app := r.JSON(f)["id"].(string)
	r = env.Do(http.MethodPost, "/api/jobs/start", token, map[string]any{"application_id": app, "name": "seed"})
	if r.Status != http.StatusCreated {
		f.Fatalf("seed job: %d %s", r.Status, r.Body)
	}
	job := r.JSON(f)["id"].(string)
	targets := []string{"/api/apps/register", "/api/jobs/start", "/api/jobs/finish", "/jobs/start"}
	for _, seed := range []string{
		`{"name":"a","description":"d","version":"1.0","metadata":{"k":[1,"x",null]}}`,
		`{"application_id":"` + app + `","name":"j","metadata":{}}`,
		`{"job_id":"` + job + `","status":"FAILED","result":{"x":1},"error_message":"e","cpu_usage":50,"memory_usage":1e9}`,
		`{"job_id":"` + job + `","status":"COMPLETED","cpu_usage":101}`,
		`{"application_id":"not-a-uuid","name":""}`, `{"name":"a\u0000"}`, `{"metadata":[]}`,
		`{"name":"x","name":"y"}`, `{"cpu_usage":NaN}`, `[]`, `null`, ``, `{"result":1e400}`,
	} {
		for i := range targets {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, body string) {
		path := targets[int(target)%len(targets)]
		r := apitest.Do(t, env.Server.URL, http.MethodPost, path, token, body)
		if r.Status >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, r.Status, r.Body)
		}
	})
}
