package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPanicIsA500ProblemLoggedAndCounted proves the middleware order: the
// recovery turns a panic into a problem detail, the request log and the
// metrics (which sit outside it) see the 500, and the stack reaches the log
// but not the client.
func TestPanicIsA500ProblemLoggedAndCounted(t *testing.T) {
	t.Parallel()
	logs := &bytes.Buffer{} // ServeHTTP runs in this goroutine
	reg := prometheus.NewRegistry()
	r := NewRouter(Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: reg})
	r.GET("/test/panic/:id", func(*gin.Context) { panic("handler bug: secret-internal-detail") })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/test/panic/42", nil))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic answered %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if bytes.Contains(w.Body.Bytes(), []byte("secret-internal-detail")) || bytes.Contains(w.Body.Bytes(), []byte("goroutine")) {
		t.Fatalf("the panic leaked to the client: %s", w.Body)
	}
	l := logs.String()
	for _, want := range []string{`"msg":"panic in handler"`, "secret-internal-detail", `"route":"/test/panic/:id"`, "panic_test.go", `"status":500`} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %s:\n%s", want, l)
		}
	}
	want := `
# HELP licensing_http_requests_total HTTP requests served, by method, route pattern and status code.
# TYPE licensing_http_requests_total counter
licensing_http_requests_total{method="GET",route="/test/panic/:id",status="500"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "licensing_http_requests_total"); err != nil {
		t.Error(err)
	}
}
