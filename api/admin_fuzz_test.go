package api_test

import (
	"net/http"
	"testing"

	"github.com/licensing-service/licensing/internal/apitest"
)

// FuzzAdminBodies sends arbitrary bodies to the admin endpoints that read
// one: whatever comes in, the answer is documented in api/openapi.yaml and
// never a 5xx.
func FuzzAdminBodies(f *testing.F) {
	env := apitest.New(f)
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{
		"tenant_id": "fuzz", "tenant_name": "Fuzz", "max_apps": 1, "max_executions_per_24h": 1,
	})
	if r.Status != http.StatusCreated {
		f.Fatalf("seed license: %d %s", r.Status, r.Body)
	}
	id := r.JSON(f)["id"].(string)
	targets := []struct{ method, path string }{
		{http.MethodPost, "/api/licenses"},
		{http.MethodPatch, "/api/licenses/" + id},
		{http.MethodPost, "/api/licenses/" + id + "/tokens"},
		{http.MethodPost, "/api/licenses/" + id + "/suspend"},
	}
	for _, seed := range []string{
		`{"tenant_id":"a","tenant_name":"A","max_apps":1,"max_executions_per_24h":1}`,
		`{"tenantId":"b","tenantName":"B","maxApps":2,"maxExecutionsPer24h":3,"validFrom":"2026-01-01T00:00:00Z","validTo":"2099-01-01T00:00:00Z"}`,
		`{"max_apps":-1,"valid_to":"2000-01-01T00:00:00Z","reason":"x"}`,
		`{"revoke_previous":true,"expires_at":"2099-01-01T00:00:00+02:00"}`,
		`{"tenant_id":1e999}`, `[]`, `null`, `"x"`, ``, `{"a":{"b":[1,2,{}]}}`,
		`{"valid_from":"9999-12-31T23:59:59Z","valid_to":"0000-01-01T00:00:00Z"}`,
		`{"max_executions_per_24h":2147483648,"maxApps":9223372036854775807}`,
	} {
		for i := range targets {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, body string) {
		tg := targets[int(target)%len(targets)]
		r := apitest.Do(t, env.Server.URL, tg.method, tg.path, env.AdminToken, body)
		if r.Status >= 500 {
			t.Fatalf("%s %s %q: %d %s", tg.method, tg.path, body, r.Status, r.Body)
		}
	})
}
