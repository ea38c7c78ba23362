package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/app"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
)

// scrape fetches /metrics through the OpenAPI-checking client and parses it.
func scrape(t *testing.T, env *apitest.Env) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	r := env.Do(http.MethodGet, "/metrics", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("metrics: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("metrics content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("metrics: parse: %v\n%s", err, r.Body)
	}
	return fams, string(r.Body)
}

// find returns the metric of family name whose labels include want, or nil.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestMetricsCountRequestsByRoutePattern(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for range 3 {
		env.Do(http.MethodGet, "/healthz", "", nil)
	}
	env.Do(http.MethodGet, "/readyz", "", nil)
	// Unknown paths are one series, whatever the client sends.
	env.Do(http.MethodGet, "/no/such/thing-1", "", nil)
	env.Do(http.MethodGet, "/no/such/thing-2", "", nil)
	env.Do(http.MethodDelete, "/healthz", "", nil)

	fams, text := scrape(t, env)
	counter := func(method, route, status string) float64 {
		m := find(fams, "licensing_http_requests_total", map[string]string{"method": method, "route": route, "status": status})
		if m == nil {
			t.Fatalf("no licensing_http_requests_total{method=%q,route=%q,status=%q}:\n%s", method, route, status, text)
		}
		return m.GetCounter().GetValue()
	}
	if n := counter("GET", "/healthz", "200"); n != 3 {
		t.Errorf("healthz count %v, want 3", n)
	}
	if n := counter("GET", "/readyz", "200"); n != 1 {
		t.Errorf("readyz count %v, want 1", n)
	}
	if n := counter("GET", "(unmatched)", "404"); n != 2 {
		t.Errorf("unmatched 404 count %v, want 2", n)
	}
	if n := counter("DELETE", "(unmatched)", "405"); n != 1 {
		t.Errorf("405 count %v, want 1", n)
	}
	if strings.Contains(text, "thing-1") {
		t.Errorf("a raw URL leaked into the metrics")
	}
	h := find(fams, "licensing_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/healthz"})
	if h == nil || h.GetHistogram().GetSampleCount() != 3 || len(h.GetHistogram().GetBucket()) == 0 {
		t.Errorf("healthz latency histogram: %v", h)
	}
	if g := find(fams, "licensing_http_requests_in_flight", nil); g == nil || g.GetGauge().GetValue() != 1 {
		t.Errorf("in flight during the scrape: %v, want 1 (the scrape itself)", g)
	}

	// Pool figures come from pool.Stat(); /readyz acquired a connection.
	pool := env.App.Pool
	if m := find(fams, "pgxpool_max_conns", nil); m == nil || m.GetGauge().GetValue() != float64(pool.Config().MaxConns) {
		t.Errorf("pgxpool_max_conns %v, want %d", m, pool.Config().MaxConns)
	}
	if m := find(fams, "pgxpool_acquire_count", nil); m == nil || m.GetCounter().GetValue() < 1 {
		t.Errorf("pgxpool_acquire_count %v, want >= 1", m)
	}
	for _, name := range []string{"pgxpool_acquired_conns", "pgxpool_idle_conns", "pgxpool_total_conns",
		"pgxpool_acquire_duration_ns", "pgxpool_empty_acquire", "go_goroutines", "go_build_info", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s in the metrics", name)
		}
	}
}

// TestMetricsRegistriesAreIndependent proves that two apps in one process
// (parallel tests) keep separate figures.
func TestMetricsRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := apitest.New(t), apitest.New(t)
	a.Do(http.MethodGet, "/healthz", "", nil)
	fams, _ := scrape(t, b)
	if m := find(fams, "licensing_http_requests_total", map[string]string{"route": "/healthz"}); m != nil {
		t.Fatalf("app b counted app a's request: %v", m)
	}
}

func TestRequestLogCarriesIDAndDurationButNoSecrets(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	const bearer = "secret-bearer-token-do-not-log"
	const bodySecret = "secret-body-value-do-not-log"
	r := env.Do(http.MethodPost, "/healthz?q=secret-query-do-not-log", bearer,
		map[string]string{"password": bodySecret}, "X-Request-Id", "req-abc.123")
	if r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("status %d", r.Status)
	}
	if got := r.Header.Get("X-Request-Id"); got != "req-abc.123" {
		t.Fatalf("X-Request-Id echoed as %q", got)
	}
	// An id with characters outside the safe set is replaced, not logged.
	r = env.Do(http.MethodGet, "/healthz", "", nil, "X-Request-Id", "evil\u2028id")
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, "evil") {
		t.Fatalf("unsafe request id kept: %q", id)
	}

	logs := env.Logs.String()
	for _, secret := range []string{bearer, bodySecret, "secret-query", "Authorization", "evil"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
	var line map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "http request" && l["request_id"] == "req-abc.123" {
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no request line with the client's request id:\n%s", logs)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms is %T %v, want a number", line["duration_ms"], line["duration_ms"])
	}
	if line["status"] != float64(http.StatusMethodNotAllowed) || line["method"] != "POST" || line["route"] != "(unmatched)" {
		t.Errorf("request line %v", line)
	}
}

func TestReadyzReportsASchemaBehindOrDirty(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	if r := env.Do(http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("fresh database: %d %s", r.Status, r.Body)
	}
	notReady := func(what, wantDetail string) {
		t.Helper()
		r := env.Do(http.MethodGet, "/readyz", "", nil)
		p := r.JSON(t)
		if r.Status != http.StatusServiceUnavailable || p["code"] != "SERVICE_UNAVAILABLE" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %d %v (Retry-After %q)", what, r.Status, p, r.Header.Get("Retry-After"))
		}
		if d, _ := p["detail"].(string); !strings.Contains(d, wantDetail) {
			t.Fatalf("%s: detail %q, want it to mention %q", what, d, wantDetail)
		}
	}

	// One migration behind, as when a new build runs on an old schema.
	if err := migrations.Down(env.DBURL, 1); err != nil {
		t.Fatal(err)
	}
	notReady("schema behind", "this build needs")
	if err := migrations.Up(env.DBURL); err != nil {
		t.Fatal(err)
	}
	if r := env.Do(http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("after migrate up: %d %s", r.Status, r.Body)
	}

	// A failed migration leaves the schema dirty.
	conn, err := pgx.Connect(context.Background(), env.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE schema_migrations SET dirty = true"); err != nil {
		t.Fatal(err)
	}
	notReady("dirty schema", "dirty")
}

func TestReadyzReportsAnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the pool connects lazily, so the app
	// starts and /readyz is the one to tell.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody:pw@127.0.0.1:1/licensing?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &apitest.SyncBuffer{}
	a, err := app.New(context.Background(), pool, config.Default(), slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Router)
	t.Cleanup(srv.Close)
	r := apitest.Do(t, srv.URL, http.MethodGet, "/readyz", "", nil)
	if r.Status != http.StatusServiceUnavailable || r.JSON(t)["code"] != "SERVICE_UNAVAILABLE" {
		t.Fatalf("readyz on an unreachable database: %d %s", r.Status, r.Body)
	}
	if r := apitest.Do(t, srv.URL, http.MethodGet, "/healthz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz must not depend on the database: %d", r.Status)
	}
	if strings.Contains(logs.String(), "pw@") {
		t.Errorf("the database password reached the logs: %s", logs)
	}
}

// TestClientAddressIgnoresForwardedForByDefault: a client cannot choose the
// address the logs (and per-client limits) see, unless it comes through a
// configured proxy.
func TestClientAddressIgnoresForwardedForByDefault(t *testing.T) {
	t.Parallel()
	clientOf := func(env *apitest.Env) string {
		t.Helper()
		env.Do(http.MethodGet, "/healthz", "", nil, "X-Forwarded-For", "203.0.113.7", "X-Request-Id", "xff-probe")
		sc := bufio.NewScanner(strings.NewReader(env.Logs.String()))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["request_id"] == "xff-probe" {
				s, _ := l["client"].(string)
				return s
			}
		}
		t.Fatalf("no request line:\n%s", env.Logs)
		return ""
	}
	if got := clientOf(apitest.New(t)); got != "127.0.0.1" {
		t.Errorf("with no trusted proxy the client is %q, want the peer 127.0.0.1", got)
	}
	behindProxy := apitest.New(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	if got := clientOf(behindProxy); got != "203.0.113.7" {
		t.Errorf("behind a trusted proxy the client is %q, want 203.0.113.7", got)
	}
}
