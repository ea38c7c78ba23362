package api_test

import (
	"net/http"
	"testing"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestHealthAndUnknownRoute(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	if r := env.Do(http.MethodGet, "/healthz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz: %d", r.Status)
	}
	if r := env.Do(http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	r := env.Do(http.MethodGet, "/openapi.yaml", "", nil)
	if r.Status != http.StatusOK || len(r.Body) == 0 {
		t.Fatalf("openapi.yaml: %d", r.Status)
	}
	r = apitest.Do(t, env.Server.URL, http.MethodGet, "/no/such/thing", "", nil)
	if r.Status != http.StatusNotFound || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if code := r.JSON(t)["code"]; code != "NOT_FOUND" {
		t.Fatalf("code %v", code)
	}
}
