package bench

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/template"
)

// The chart is plain SVG from a template: two panels (throughput and p99
// against clients) of POST /api/jobs/start, the service in solid lines and
// its database ceiling dashed, one colour per load shape.

type chartSeries struct {
	Label  string
	Color  string
	Dashed bool
	Points string // polyline "x,y x,y"
	Dots   []chartDot
}

type chartDot struct {
	X, Y  float64
	Title string
}

type chartTick struct {
	Pos   float64
	Label string
}

type chartPanel struct {
	Title          string
	X, Y, W, H     float64 // plot area
	XTicks, YTicks []chartTick
	Series         []chartSeries
}

type chartView struct {
	Width, Height float64
	Title         string
	Subtitle      string
	Panels        []chartPanel
	Legend        []chartSeries
	LegendY       float64
}

var chartTemplate = template.Must(template.New("chart").Funcs(chartFuncs).Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="24" font-size="15" font-weight="600" fill="#111">{{.Title}}</text>
<text x="20" y="42" fill="#555">{{.Subtitle}}</text>
{{- range .Panels}}
<g>
<text x="{{.X}}" y="{{printf "%.1f" (sub .Y 10)}}" font-weight="600" fill="#222">{{.Title}}</text>
<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="none" stroke="#ccc"/>
{{- $p := .}}
{{- range .YTicks}}
<line x1="{{$p.X}}" x2="{{printf "%.1f" (add $p.X $p.W)}}" y1="{{printf "%.1f" .Pos}}" y2="{{printf "%.1f" .Pos}}" stroke="#eee"/>
<text x="{{printf "%.1f" (sub $p.X 6)}}" y="{{printf "%.1f" (add .Pos 4)}}" text-anchor="end" fill="#555">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<text x="{{printf "%.1f" .Pos}}" y="{{printf "%.1f" (add (add $p.Y $p.H) 16)}}" text-anchor="middle" fill="#555">{{.Label}}</text>
{{- end}}
<text x="{{printf "%.1f" (add $p.X (div $p.W 2))}}" y="{{printf "%.1f" (add (add $p.Y $p.H) 34)}}" text-anchor="middle" fill="#333">clients</text>
{{- range .Series}}
<polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2"{{if .Dashed}} stroke-dasharray="6 4"{{end}}/>
{{- $s := .}}
{{- range .Dots}}
<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="3.5" fill="{{$s.Color}}"><title>{{.Title}}</title></circle>
{{- end}}
{{- end}}
</g>
{{- end}}
{{- range $i, $s := .Legend}}
<g transform="translate({{printf "%.1f" (add 20 (mul (float $i) 235))}},{{$.LegendY}})">
<line x1="0" x2="28" y1="0" y2="0" stroke="{{$s.Color}}" stroke-width="2"{{if $s.Dashed}} stroke-dasharray="6 4"{{end}}/>
<text x="34" y="4" fill="#333">{{$s.Label}}</text>
</g>
{{- end}}
</svg>
`))

// SVG renders the chart of r's jobs.start points. It returns nil when
// there is nothing to draw.
func SVG(r Report) ([]byte, error) {
	var clients []int
	for _, p := range r.Points {
		if p.Phase == PhaseJobStart && !slices.Contains(clients, p.Clients) {
			clients = append(clients, p.Clients)
		}
	}
	if len(clients) == 0 {
		return nil, nil
	}
	slices.Sort(clients)
	type line struct {
		side     string
		licenses int
		label    string
		color    string
	}
	var lines []line
	for _, l := range []line{
		{SideCeiling, 1, "ceiling, 1 hot license", "#d62728"},
		{SideService, 1, "service, 1 hot license", "#d62728"},
		{SideCeiling, 1000, "ceiling, 1,000 licenses", "#1f77b4"},
		{SideService, 1000, "service, 1,000 licenses", "#1f77b4"},
	} {
		for _, p := range r.Points {
			if p.Phase == PhaseJobStart && p.Side == l.side && p.Licenses == l.licenses {
				lines = append(lines, l)
				break
			}
		}
	}
	v := chartView{
		Width:    960,
		Height:   430,
		Title:    "POST /api/jobs/start: the service against its database ceiling (pgbench, same SQL)",
		Subtitle: fmt.Sprintf("%s mode, %s, %d CPUs, PostgreSQL %s, fsync=%s, synchronous_commit=%s", r.Mode, r.Started.UTC().Format("2006-01-02"), r.Machine.CPUs, r.Machine.PostgreSQL, r.Settings["fsync"], r.Settings["synchronous_commit"]),
		LegendY:  410,
	}
	metrics := []struct {
		title string
		value func(Point) float64
		unit  string
	}{
		{"Throughput (requests or transactions per second)", func(p Point) float64 { return p.Throughput }, ""},
		{"p99 latency (ms)", func(p Point) float64 { return p.P99 }, ""},
	}
	for i, m := range metrics {
		panel := chartPanel{Title: m.title, X: 70 + float64(i)*470, Y: 80, W: 400, H: 260}
		maxV := 0.0
		for _, p := range r.Points {
			if p.Phase == PhaseJobStart {
				maxV = math.Max(maxV, m.value(p))
			}
		}
		top, step := niceScale(maxV)
		for y := 0.0; y <= top+step/2; y += step {
			panel.YTicks = append(panel.YTicks, chartTick{Pos: panel.Y + panel.H - y/top*panel.H, Label: tickLabel(y)})
		}
		xpos := func(c int) float64 {
			i := slices.Index(clients, c)
			if len(clients) == 1 {
				return panel.X + panel.W/2
			}
			return panel.X + 30 + float64(i)*(panel.W-60)/float64(len(clients)-1)
		}
		for _, c := range clients {
			panel.XTicks = append(panel.XTicks, chartTick{Pos: xpos(c), Label: fmt.Sprint(c)})
		}
		for _, l := range lines {
			s := chartSeries{Label: l.label, Color: l.color, Dashed: l.side == SideCeiling}
			var pts []string
			for _, c := range clients {
				p, ok := r.find(PhaseJobStart, l.side, l.licenses, c, 0)
				if !ok || p.Requests == 0 {
					continue
				}
				x, y := xpos(c), panel.Y+panel.H-m.value(p)/top*panel.H
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				s.Dots = append(s.Dots, chartDot{X: x, Y: y, Title: fmt.Sprintf("%s, %d clients: %s", l.label, c, tickLabel(m.value(p)))})
			}
			s.Points = strings.Join(pts, " ")
			panel.Series = append(panel.Series, s)
		}
		v.Panels = append(v.Panels, panel)
	}
	for _, l := range lines {
		v.Legend = append(v.Legend, chartSeries{Label: l.label, Color: l.color, Dashed: l.side == SideCeiling})
	}
	var b bytes.Buffer
	if err := chartTemplate.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var chartFuncs = template.FuncMap{
	"add":   func(a, b float64) float64 { return a + b },
	"sub":   func(a, b float64) float64 { return a - b },
	"mul":   func(a, b float64) float64 { return a * b },
	"div":   func(a, b float64) float64 { return a / b },
	"float": func(i int) float64 { return float64(i) },
}

// niceScale returns an axis top at or above max and a tick step, both
// 1, 2 or 5 times a power of ten, for about five ticks.
func niceScale(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.2
	}
	raw := max / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * pow; step >= raw {
			break
		}
	}
	top = math.Ceil(max/step) * step
	return top, step
}

func tickLabel(v float64) string {
	switch {
	case v >= 1000:
		return thousands(int(math.Round(v)))
	case v >= 10 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
