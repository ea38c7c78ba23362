package bench

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(1..100 ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one value: got %v", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("no values: got %v", got)
	}
	// Three values: p50 is the second (ceil(1.5) = 2), p99 the third.
	three := []time.Duration{1, 2, 3}
	if Percentile(three, 50) != 2 || Percentile(three, 99) != 3 {
		t.Errorf("three values: p50 %v p99 %v", Percentile(three, 50), Percentile(three, 99))
	}
}

const sampleQueries = `-- name: JobGet :one
-- JobGet reads a job.
SELECT * FROM jobs WHERE id = @id::uuid;

-- name: JobStart :one
-- JobStart admits a job.
WITH locked_license AS (
    SELECT id FROM licenses WHERE id = @license_id::uuid FOR UPDATE
)
INSERT INTO jobs (license_id, name, metadata)
SELECT id, @name::text, sqlc.narg('metadata')::jsonb FROM locked_license
WHERE clock_timestamp() > now() - interval '24 hours'
RETURNING *;

-- name: JobFinish :one
UPDATE jobs SET status = 'DONE' WHERE id = @id::uuid RETURNING *;
`

func TestQueryTextAndBindParams(t *testing.T) {
	t.Parallel()
	q, err := QueryText(sampleQueries, "JobStart")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q, "WITH locked_license AS (") || !strings.HasSuffix(q, "RETURNING *") || strings.Contains(q, "--") {
		t.Fatalf("QueryText = %q", q)
	}
	bound, err := BindParams(q, map[string]string{
		"license_id": "SELECT license_id FROM bench_targets WHERE n = :n",
		"name":       "'bench'",
		"metadata":   "NULL",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"WHERE id = (SELECT license_id FROM bench_targets WHERE n = :n)::uuid FOR UPDATE",
		"SELECT id, ('bench')::text, (NULL)::jsonb FROM",
	} {
		if !strings.Contains(bound, want) {
			t.Errorf("bound query lacks %q:\n%s", want, bound)
		}
	}

	if _, err := BindParams(q, map[string]string{"license_id": "1"}); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("a missing parameter: err = %v", err)
	}
	if _, err := BindParams(q, map[string]string{"license_id": "1", "name": "1", "metadata": "1", "extra": "1"}); err == nil {
		t.Error("an unused argument was accepted")
	}
	if _, err := BindParams("SELECT ':x'", nil); err == nil {
		t.Error("a pgbench variable in the query was accepted")
	}
	if got, err := BindParams("SELECT sqlc.embed(licenses), 1 FROM licenses WHERE id = @id::uuid", map[string]string{"id": ":x"}); err != nil ||
		got != "SELECT licenses.*, 1 FROM licenses WHERE id = (:x)::uuid" {
		t.Errorf("sqlc.embed: %q, %v", got, err)
	}
	if _, err := QueryText(sampleQueries, "JobMissing"); err == nil {
		t.Error("a missing query was found")
	}
}

func TestParsePgbenchLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// client_id transaction_no time(us) script_no time_epoch time_us
	log0 := "0 0 1000 0 1700000000 100000\n0 1 3000 0 1700000000 200000\n"
	log1 := "1 0 2000 0 1700000000 300000\n1 1 failed 0 1700000000 400000\n"
	for name, body := range map[string]string{"tx.1": log0, "tx.1.1": log1} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := []string{filepath.Join(dir, "tx.1"), filepath.Join(dir, "tx.1.1")}
	s, err := parsePgbenchLogs(logs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 4 || s.Errors != 1 {
		t.Errorf("requests %d errors %d, want 4 and 1", s.Requests, s.Errors)
	}
	// From the first start (0.100 s - 1 ms) to the last end (0.400 s, the failed one).
	if want := 0.301; s.Seconds < want-1e-9 || s.Seconds > want+1e-9 {
		t.Errorf("seconds = %v, want %v", s.Seconds, want)
	}
	if s.P50 != 2 || s.P99 != 3 {
		t.Errorf("p50 %v p99 %v, want 2 and 3 ms", s.P50, s.P99)
	}
	// A warm-up of 150 ms leaves out the two transactions that started
	// before 0.099 s + 0.150 s.
	s, err = parsePgbenchLogs(logs, 150*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 2 || s.Errors != 1 || s.P50 != 2 {
		t.Errorf("after the warm-up: %+v", s)
	}
	// And a limit of 100 ms after it leaves out the failed one (0.4 s).
	s, err = parsePgbenchLogs(logs, 150*time.Millisecond, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 1 || s.Errors != 0 || s.P50 != 2 {
		t.Errorf("within the limit: %+v", s)
	}
}

func sampleReport() Report {
	r := Report{Started: time.Date(2026, 12, 4, 17, 40, 0, 0, time.UTC), Mode: "quick",
		Machine:  Machine{CPUs: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8", PostgreSQL: "15.18", PoolSize: 20},
		Settings: map[string]string{"fsync": "on", "synchronous_commit": "on"}}
	pt := func(phase, side string, licenses, clients, window int, tput, p50, p99 float64) Point {
		return Point{Phase: phase, Side: side, Licenses: licenses, Clients: clients, Window: window,
			Stats: Stats{Requests: 100, Throughput: tput, P50: p50, P95: p99, P99: p99}}
	}
	withBeyond := func(p Point) Point {
		p.Beyond = &Beyond{Requests: 100, P50: 0.2, P99: 0.4, ServerP50: 0.1, ServerP99: 0.3, DBP50: 2.2, DBP99: 2.9}
		return p
	}
	r.Points = []Point{
		pt(PhaseJobStart, SideCeiling, 1, 1, 0, 500, 2, 3),
		withBeyond(pt(PhaseJobStart, SideService, 1, 1, 0, 400, 2.4, 3.3)),
		pt(PhaseJobStart, SideCeiling, 1, 16, 0, 1000, 15, 30),
		pt(PhaseJobStart, SideService, 1, 16, 0, 800, 19, 60),
		pt(PhaseJobStart, SideCeiling, 1000, 16, 0, 3000, 5, 10),
		pt(PhaseJobStart, SideService, 1000, 16, 0, 2400, 6, 12),
		pt(PhaseHealthz, SideService, 0, 1, 0, 18000, 0.05, 0.2),
		pt(PhaseWindow, SideService, 1, 1, 100, 400, 2, 3),
		pt(PhaseWindow, SideService, 1, 1, 1_000_000, 380, 2.2, 3.5),
		pt(PhaseRegister, SideCeiling, 1, 16, 0, 900, 15, 30),
		pt(PhaseRegister, SideService, 1, 16, 0, 450, 30, 70),
	}
	r.Derive()
	return r
}

func TestDeriveMarkdownAndSVG(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	ratios := map[string]float64{}
	for _, p := range r.Points {
		ratios[fmt.Sprintf("%s/%s/%d/%d/%d", p.Phase, p.Side, p.Licenses, p.Clients, p.Window)] = p.Ratio
	}
	for key, want := range map[string]float64{
		"jobs.start/service/1/16/0":    0.8,
		"jobs.start/service/1000/16/0": 0.8,
		"jobs.start/ceiling/1/16/0":    0,
		"window/service/1/1/1000000":   1.1,
		"apps.register/service/1/16/0": 0.5,
	} {
		if got := ratios[key]; got < want-1e-9 || got > want+1e-9 {
			t.Errorf("ratio %s = %v, want %v", key, got, want)
		}
	}
	if len(r.Overheads) != 1 || r.Overheads[0].Clients != 1 || r.Overheads[0].HealthzP50 != 0.05 || r.Overheads[0].P99 != 0.4 {
		t.Errorf("overheads = %+v", r.Overheads)
	}
	met := map[string]bool{}
	for _, tg := range r.Targets {
		met[tg.Goal] = tg.Met
	}
	if !met["HTTP + token + JSON beyond the database (1 client, 1 licenses): p99 <= 0.5 ms"] || met["jobs.start, one hot license, 16 clients: p99 <= 50 ms"] || !met["jobs.start, one hot license, 16 clients: >= 70% of the ceiling"] {
		t.Errorf("targets = %+v", r.Targets)
	}

	md := Markdown(r)
	for _, want := range []string{
		"| 1 (hot) | 16 | 1000 | 15.00 / 30.00 / 30.00 | 800 | 19.00 / 60.00 / 60.00 | 80% | 0 | – / – | – |",
		"| 1,000,000 | – | 0 | – | – | – | 2.20 / 3.50 | 1.10x |",
		"| 1 (hot) | 16 | 900 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	svg, err := SVG(r)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	polylines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	// Two panels, four lines each (service and ceiling, hot and spread).
	if polylines != 8 {
		t.Errorf("%d polylines, want 8", polylines)
	}
	if empty, err := SVG(Report{}); err != nil || empty != nil {
		t.Errorf("SVG of an empty report = %d bytes, %v", len(empty), err)
	}
}

func TestBeyondJoinsByRequest(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	server := map[string]*requestTiming{"0": {server: 3 * ms}, "1": {server: 5 * ms}, "7": {server: ms}}
	server["0"].db.Store(int64(2 * ms))
	server["1"].db.Store(int64(4 * ms))
	server["0"].queries.Store(5)
	server["1"].queries.Store(5)
	// Seq 2 has no server timing (not joined); seq 7 no client result.
	b := beyond(map[string]time.Duration{"0": 4 * ms, "1": 7 * ms, "2": 9 * ms}, server)
	if b == nil || b.Requests != 2 || b.P50 != 2 || b.P99 != 3 || b.ServerP50 != 1 || b.DBP99 != 4 || b.Statements != 5 {
		t.Errorf("beyond = %+v", b)
	}
	if beyond(nil, server) != nil {
		t.Error("nothing to join gave a result")
	}
}

func TestNiceScale(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ max, top, step float64 }{{0, 1, 0.2}, {9, 10, 2}, {1234, 1500, 500}, {0.37, 0.4, 0.1}} {
		top, step := niceScale(c.max)
		if abs(top-c.top) > 1e-9 || abs(step-c.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", c.max, top, step, c.top, c.step)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestRunLoadSmoke drives a trivial server for a moment: vegeta's plumbing
// and the counting work. It asserts counts, never timings.
func TestRunLoadSmoke(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	s := RunLoad(context.Background(), Load{Name: "smoke", Clients: 2, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		OK: http.StatusCreated, Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: srv.URL + "/ok"})})
	if s.Requests == 0 || s.Errors != 0 || s.StatusCodes[http.StatusCreated] != s.Requests || s.Throughput <= 0 || s.P99 <= 0 {
		t.Errorf("ok load: %+v", s)
	}
	s = RunLoad(context.Background(), Load{Name: "smoke-fail", Clients: 1, Duration: 100 * time.Millisecond,
		Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: srv.URL + "/fail"})})
	if s.Requests == 0 || s.Errors != s.Requests || !strings.Contains(s.FirstError, "418") {
		t.Errorf("failing load: %+v", s)
	}
}

// TestRunPgbenchSmoke runs pgbench for a second on the test cluster: the
// script, the flags and the log parsing work with the installed pgbench.
func TestRunPgbenchSmoke(t *testing.T) {
	t.Parallel()
	c := pgtest.Cluster()
	if c == nil {
		t.Skip("no private cluster (TEST_DATABASE_URL is set)")
	}
	url := pgtest.NewDatabase(t)
	dbname := url[strings.LastIndex(url, "/")+1:]
	dbname = dbname[:strings.IndexByte(dbname, '?')]
	s, err := RunPgbench(context.Background(), c, Pgbench{
		Name:     "smoke",
		Script:   "\\set n random(1, 10)\nBEGIN ISOLATION LEVEL READ COMMITTED;\nSELECT :n::int + 1;\nCOMMIT;\n",
		Clients:  2,
		Duration: time.Second,
		DB:       dbname,
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests == 0 || s.Errors != 0 || s.Throughput <= 0 {
		t.Errorf("pgbench smoke: %+v", s)
	}
}

// TestFixtureIDsAgree checks that the SQL expression pgbench uses for a
// fixture's ids gives the ids the service's clients use.
func TestFixtureIDsAgree(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	for _, n := range []int{1, 1000, hotBase + 7, registerBase + 1} {
		var lic, app uuid.UUID
		err := pool.QueryRow(context.Background(),
			"SELECT "+idSQL(licensePrefix, "$1::int")+", "+idSQL(appPrefix, "$1::int"), n).Scan(&lic, &app)
		if err != nil {
			t.Fatal(err)
		}
		if lic != licenseID(n) || app != appID(n) {
			t.Errorf("n=%d: SQL gives %s and %s, Go %s and %s", n, lic, app, licenseID(n), appID(n))
		}
	}
}

func TestCPUSnapshot(t *testing.T) {
	t.Parallel()
	snap := takeCPU()
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	c := snap.since(100)
	if c == nil || c.Process <= 0 || c.Machine < 0 || c.ProcessPerRequestMs <= 0 {
		t.Errorf("cpu = %+v", c)
	}
}
