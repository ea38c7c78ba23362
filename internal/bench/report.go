package bench

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Phases of a run, in the order they are reported.
const (
	PhaseJobStart = "jobs.start"
	PhaseHealthz  = "healthz"
	PhaseWindow   = "window"
	PhaseRegister = "apps.register"
)

// Sides of a comparison: the service over HTTP, or its database ceiling
// (pgbench running the same SQL).
const (
	SideService = "service"
	SideCeiling = "ceiling"
	// SideCeilingToken is the ceiling with the token check's read of the
	// license before the decision: every statement the service runs.
	SideCeilingToken = "ceiling+token"
	// SideStatement is the deciding statement alone, timed by EXPLAIN
	// ANALYZE (window phase).
	SideStatement = "statement"
)

// Report is everything one run measured.
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Mode     string    `json:"mode"`
	Machine  Machine   `json:"machine"`
	// Settings are the PostgreSQL settings that decide commit cost, read
	// from the running cluster.
	Settings map[string]string `json:"postgres_settings"`
	Points   []Point           `json:"points"`
	// Overheads are the per-request costs beyond the database.
	Overheads []Overhead `json:"overheads,omitempty"`
	Targets   []Target   `json:"targets,omitempty"`
	// Scripts are the pgbench scripts of the ceilings, by phase (the first
	// of each; later points differ only in \set n).
	Scripts map[string]string `json:"ceiling_scripts,omitempty"`
	// Notes say what was skipped and why.
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql"`
	// PoolSize is the service's database pool (LICENSING_DB_POOL_SIZE).
	PoolSize int `json:"service_pool_size"`
}

// Point is one measurement.
type Point struct {
	Phase string `json:"phase"`
	Side  string `json:"side"`
	// Licenses is how many licenses the load spreads over (1: one hot license).
	Licenses int `json:"licenses,omitempty"`
	Clients  int `json:"clients"`
	// Window is how many executions the license's window held before the
	// point (window-growth phase).
	Window int `json:"window,omitempty"`
	Stats
	// Beyond is what the service's requests cost beyond their database
	// calls (service points).
	Beyond *Beyond `json:"beyond_db,omitempty"`
	// CPU is where the processor time went during the point (warm-up
	// included).
	CPU *CPU `json:"cpu,omitempty"`
	// Buffers are the shared buffers the statement touched (SideStatement).
	Buffers int64 `json:"buffers,omitempty"`
	// ThroughputRatio is a service point's throughput over its ceiling's;
	// for the window phase, the p50 over the 100-execution case's.
	Ratio float64 `json:"ratio,omitempty"`
}

// Overhead is what a jobs.start request costs beyond its database calls,
// at one client count (see Beyond).
type Overhead struct {
	Licenses int `json:"licenses"`
	Clients  int `json:"clients"`
	Beyond
	// HealthzP50 and HealthzP99 are the bare HTTP round trip at the same
	// client count (GET /healthz).
	HealthzP50 float64 `json:"healthz_p50_ms"`
	HealthzP99 float64 `json:"healthz_p99_ms"`
}

// Target is one goal of issue 5 and whether this run met it.
type Target struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// find returns the point matching the keys, if any.
func (r *Report) find(phase, side string, licenses, clients, window int) (Point, bool) {
	for _, p := range r.Points {
		if p.Phase == phase && p.Side == side && p.Licenses == licenses && p.Clients == clients && p.Window == window {
			return p, true
		}
	}
	return Point{}, false
}

// Derive computes the ratios, the overheads and the targets from the
// points. It is idempotent.
func (r *Report) Derive() {
	for i := range r.Points {
		p := &r.Points[i]
		p.Ratio = 0
		switch {
		case p.Phase == PhaseWindow:
			if base, ok := r.find(PhaseWindow, p.Side, p.Licenses, p.Clients, smallestWindow(r.Points)); ok && base.P50 > 0 {
				p.Ratio = p.P50 / base.P50
			}
		case p.Side == SideService:
			if c, ok := r.find(p.Phase, SideCeiling, p.Licenses, p.Clients, p.Window); ok && c.Throughput > 0 {
				p.Ratio = p.Throughput / c.Throughput
			}
		}
	}
	r.Overheads = nil
	for _, p := range r.Points {
		if p.Phase != PhaseJobStart || p.Side != SideService {
			continue
		}
		if p.Beyond == nil {
			continue
		}
		o := Overhead{Licenses: p.Licenses, Clients: p.Clients, Beyond: *p.Beyond}
		if h, ok := r.find(PhaseHealthz, SideService, 0, p.Clients, 0); ok {
			o.HealthzP50, o.HealthzP99 = h.P50, h.P99
		}
		r.Overheads = append(r.Overheads, o)
	}
	r.Targets = r.targets()
}

func smallestWindow(points []Point) int {
	w := 0
	for _, p := range points {
		if p.Phase == PhaseWindow && (w == 0 || p.Window < w) {
			w = p.Window
		}
	}
	return w
}

// targets checks the goals of issue 5 against the points.
func (r *Report) targets() []Target {
	var ts []Target
	add := func(goal, measured string, met bool) {
		ts = append(ts, Target{Goal: goal, Measured: measured, Met: met})
	}
	for _, p := range r.Points {
		if p.Phase != PhaseJobStart || p.Side != SideService || p.Ratio == 0 || p.Clients < 16 {
			continue
		}
		who := "one hot license"
		if p.Licenses > 1 {
			who = fmt.Sprintf("%d licenses", p.Licenses)
		}
		add(fmt.Sprintf("jobs.start, %s, %d clients: >= 70%% of the ceiling", who, p.Clients),
			fmt.Sprintf("%.0f%%", 100*p.Ratio), p.Ratio >= 0.7)
		if p.Licenses == 1 && p.Clients == 16 {
			add("jobs.start, one hot license, 16 clients: p99 <= 50 ms",
				fmt.Sprintf("%.1f ms", p.P99), p.P99 <= 50)
		}
	}
	for _, o := range r.Overheads {
		if o.Clients != 1 {
			continue
		}
		add(fmt.Sprintf("HTTP + token + JSON beyond the database (1 client, %d licenses): p99 <= 0.5 ms", o.Licenses),
			fmt.Sprintf("%.2f ms", o.P99), o.P99 <= 0.5)
	}
	for _, p := range r.Points {
		if p.Phase == PhaseWindow && p.Window == 1_000_000 && p.Ratio > 0 {
			add(fmt.Sprintf("window of 1,000,000 (%s): p50 within 1.5x of the 100 case", p.Side),
				fmt.Sprintf("%.2fx", p.Ratio), p.Ratio <= 1.5)
		}
	}
	return ts
}

// Markdown renders the report as the tables `make bench` prints.
func Markdown(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmarks (%s mode, %s)\n\n", r.Mode, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%d CPUs%s, %s/%s, %s, PostgreSQL %s (fsync=%s, synchronous_commit=%s), service pool %d.\n\n",
		r.Machine.CPUs, paren(r.Machine.CPUModel), r.Machine.OS, r.Machine.Arch, r.Machine.Go, r.Machine.PostgreSQL,
		r.Settings["fsync"], r.Settings["synchronous_commit"], r.Machine.PoolSize)

	comparisonTable(&b, r, PhaseJobStart, "POST /api/jobs/start against the database ceiling (pgbench, same SQL)")
	if rows := sidePoints(r, PhaseJobStart, SideCeilingToken); len(rows) > 0 {
		b.WriteString("With the token check's read of the license before each decision (every statement the service runs, one more round trip):\n\n")
		b.WriteString("| licenses | clients | ceiling + token read tx/s | p50 / p95 / p99 ms | service / this ceiling |\n|---:|---:|---:|---|---:|\n")
		for _, p := range rows {
			ratio := "–"
			if s, ok := r.find(PhaseJobStart, SideService, p.Licenses, p.Clients, 0); ok && p.Throughput > 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*s.Throughput/p.Throughput)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", licensesLabel(p.Licenses), p.Clients, rate(p), lat3(p), ratio)
		}
		b.WriteString("\n")
	}
	if rows := pointsOf(r, PhaseHealthz); len(rows) > 0 {
		b.WriteString("### HTTP ceiling: GET /healthz\n\n")
		b.WriteString("| clients | req/s | p50 / p95 / p99 ms | errors |\n|---:|---:|---|---:|\n")
		for _, p := range rows {
			fmt.Fprintf(&b, "| %d | %s | %s | %d |\n", p.Clients, rate(p), lat3(p), p.Errors)
		}
		b.WriteString("\n")
	}
	if len(r.Overheads) > 0 {
		b.WriteString("### POST /api/jobs/start: cost per request beyond its database calls\n\n")
		b.WriteString("Per request: the client's latency minus the time the request's statements took (timed by a pgx tracer in the service).\n\n")
		b.WriteString("| licenses | clients | beyond the database p50 / p99 ms | of which in the server p50 / p99 ms | database calls p50 / p99 ms | round trips | bare HTTP (/healthz) p50 / p99 ms |\n|---:|---:|---|---|---|---:|---|\n")
		for _, o := range r.Overheads {
			fmt.Fprintf(&b, "| %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %d | %.2f / %.2f |\n", licensesLabel(o.Licenses), o.Clients,
				o.P50, o.P99, o.ServerP50, o.ServerP99, o.DBP50, o.DBP99, o.Statements, o.HealthzP50, o.HealthzP99)
		}
		b.WriteString("\n")
	}
	if rows := pointsOf(r, PhaseWindow); len(rows) > 0 {
		b.WriteString("### Window growth: one decision at a time with N executions already in the window\n\n")
		b.WriteString("| executions in window | JobStart statement p50 / p99 ms (EXPLAIN ANALYZE) | buffers | statement vs 100 | ceiling p50 / p99 ms | ceiling vs 100 | service p50 / p99 ms | service vs 100 |\n|---:|---|---:|---:|---|---:|---|---:|\n")
		for _, w := range windows(rows) {
			st, _ := findWindow(r, SideStatement, w)
			c, _ := findWindow(r, SideCeiling, w)
			s, _ := findWindow(r, SideService, w)
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", thousands(w), lat2(st), st.Buffers, times(st.Ratio), lat2(c), times(c.Ratio), lat2(s), times(s.Ratio))
		}
		b.WriteString("\n")
	}
	comparisonTable(&b, r, PhaseRegister, "POST /api/apps/register against its ceiling (pgbench, same SQL), one hot license")
	if len(r.Targets) > 0 {
		b.WriteString("### Targets of issue 5\n\n| goal | measured | met |\n|---|---:|:---:|\n")
		for _, t := range r.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, met)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	for _, phase := range slices.Sorted(maps.Keys(r.Scripts)) {
		fmt.Fprintf(&b, "\n<details><summary>pgbench script of the %s ceiling</summary>\n\n```sql\n%s```\n\n</details>\n", phase, r.Scripts[phase])
	}
	return b.String()
}

// comparisonTable writes the service-against-ceiling table of a phase.
func comparisonTable(b *strings.Builder, r Report, phase, title string) {
	rows := pointsOf(r, phase)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	b.WriteString("| licenses | clients | ceiling tx/s | ceiling p50 / p95 / p99 ms | service req/s | service p50 / p95 / p99 ms | service / ceiling | errors | cores busy: ceiling / service | service process CPU ms per request |\n")
	b.WriteString("|---:|---:|---:|---|---:|---|---:|---:|---|---:|\n")
	for _, k := range pairKeys(rows) {
		c, _ := r.find(phase, SideCeiling, k.licenses, k.clients, 0)
		s, _ := r.find(phase, SideService, k.licenses, k.clients, 0)
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n",
			licensesLabel(k.licenses), k.clients, rate(c), lat3(c), rate(s), lat3(s), ratio(s.Ratio), errs(c, s),
			cores(c), cores(s), cpuPerRequest(s))
	}
	b.WriteString("\n")
}

func cores(p Point) string {
	if p.CPU == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f", p.CPU.Machine)
}

func cpuPerRequest(p Point) string {
	if p.CPU == nil || p.CPU.ProcessPerRequestMs == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", p.CPU.ProcessPerRequestMs)
}

func sidePoints(r Report, phase, side string) []Point {
	var ps []Point
	for _, p := range pointsOf(r, phase) {
		if p.Side == side {
			ps = append(ps, p)
		}
	}
	return ps
}

type pairKey struct{ licenses, clients int }

func pointsOf(r Report, phase string) []Point {
	var ps []Point
	for _, p := range r.Points {
		if p.Phase == phase {
			ps = append(ps, p)
		}
	}
	return ps
}

func pairKeys(ps []Point) []pairKey {
	var ks []pairKey
	for _, p := range ps {
		k := pairKey{p.Licenses, p.Clients}
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b pairKey) int {
		return cmp.Or(cmp.Compare(a.licenses, b.licenses), cmp.Compare(a.clients, b.clients))
	})
	return ks
}

func windows(ps []Point) []int {
	var ws []int
	for _, p := range ps {
		if !slices.Contains(ws, p.Window) {
			ws = append(ws, p.Window)
		}
	}
	slices.Sort(ws)
	return ws
}

func findWindow(r Report, side string, w int) (Point, bool) {
	for _, p := range r.Points {
		if p.Phase == PhaseWindow && p.Side == side && p.Window == w {
			return p, true
		}
	}
	return Point{}, false
}

func licensesLabel(n int) string {
	if n == 1 {
		return "1 (hot)"
	}
	return thousands(n)
}

func rate(p Point) string {
	if p.Requests == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", p.Throughput)
}

func lat3(p Point) string {
	if p.Requests == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f", p.P50, p.P95, p.P99)
}

func lat2(p Point) string {
	if p.Requests == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f / %.2f", p.P50, p.P99)
}

func ratio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func times(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", x)
}

func errs(ps ...Point) string {
	n := 0
	for _, p := range ps {
		n += p.Errors
	}
	return fmt.Sprint(n)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// thousands formats n with comma separators: 1000000 -> 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
