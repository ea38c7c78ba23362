package console

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// svgNode is a generic XML element, enough to walk the chart.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) all(tag string) []svgNode {
	var out []svgNode
	for _, c := range n.Nodes {
		if c.XMLName.Local == tag {
			out = append(out, c)
		}
		out = append(out, c.all(tag)...)
	}
	return out
}

func parseChart(t *testing.T, hourly []int, limit int) svgNode {
	t.Helper()
	out := string(UsageChart(hourly, limit))
	var root svgNode
	if err := xml.Unmarshal([]byte(out), &root); err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, out)
	}
	if root.XMLName.Local != "svg" {
		t.Fatalf("root is %q", root.XMLName.Local)
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Fatalf("chart has NaN or Inf:\n%s", out)
	}
	return root
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

func byClass(nodes []svgNode, class string) []svgNode {
	var out []svgNode
	for _, n := range nodes {
		for _, c := range strings.Fields(n.attr("class")) {
			if c == class {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func TestUsageChartDrawsHoursAgainstTheLimit(t *testing.T) {
	t.Parallel()
	hourly := make([]int, 24)
	hourly[0], hourly[10], hourly[23] = 10, 20, 30 // 60 in the window
	root := parseChart(t, hourly, 100)

	if title := root.all("title")[0].Text; title != "Executions per hour, last 24 hours: 60 of 100 allowed" {
		t.Errorf("title %q", title)
	}
	bars := byClass(root.all("rect"), "bar")
	if len(bars) != 3 {
		t.Fatalf("%d bars, want one per hour with executions (3)", len(bars))
	}
	if n := len(byClass(bars, "over")); n != 0 {
		t.Errorf("%d bars over the limit, want 0", n)
	}
	// The scale tops at the limit (100): a bar of 20 is twice one of 10, and
	// a bar of 30 is 30% of the plot.
	h := func(n svgNode) float64 { return num(t, n.attr("height")) }
	if got := h(bars[1]) / h(bars[0]); got < 1.99 || got > 2.01 {
		t.Errorf("bar ratio %v, want 2", got)
	}
	if got := h(bars[2]); got < 0.3*plotH-0.1 || got > 0.3*plotH+0.1 {
		t.Errorf("bar of 30 is %v high, want %v", got, 0.3*plotH)
	}
	// Bars stand on the baseline and sit in their hour's slot, oldest left.
	for i, b := range bars {
		if bottom := num(t, b.attr("y")) + h(b); bottom < chartTop+plotH-0.1 || bottom > chartTop+plotH+0.1 {
			t.Errorf("bar %d ends at %v, want the baseline %v", i, bottom, chartTop+plotH)
		}
	}
	if x0, x23 := num(t, bars[0].attr("x")), num(t, bars[2].attr("x")); !(x0 < chartLeft+plotW/24 && x23 > chartLeft+plotW*23/24) {
		t.Errorf("bars at x %v and %v, want the first and last slots", x0, x23)
	}
	if got := bars[2].all("title")[0].Text; got != "30 executions, the last hour" {
		t.Errorf("last bar's tooltip %q", got)
	}

	// The limit line is at the top of the scale.
	limit := byClass(root.all("line"), "limit")
	if len(limit) != 1 || num(t, limit[0].attr("y1")) != chartTop {
		t.Fatalf("limit line %+v, want at y=%v", limit, chartTop)
	}
	// The running total ends at 60% of the scale, right edge.
	total := byClass(root.all("polyline"), "total")
	if len(total) != 1 {
		t.Fatalf("no running total line")
	}
	pts := strings.Fields(total[0].attr("points"))
	if len(pts) != 25 {
		t.Fatalf("%d points, want 25 (start and one per hour)", len(pts))
	}
	last := strings.Split(pts[24], ",")
	if x, y := num(t, last[0]), num(t, last[1]); x != chartLeft+plotW || fmt.Sprintf("%.1f", y) != fmt.Sprintf("%.1f", chartTop+0.4*plotH) {
		t.Errorf("running total ends at (%v,%v), want (%v,%.1f)", x, y, chartLeft+plotW, chartTop+0.4*plotH)
	}
}

func TestUsageChartMarksHoursOverTheLimit(t *testing.T) {
	t.Parallel()
	// After a downgrade to 25: the running total passes 25 in hour 2.
	hourly := make([]int, 24)
	hourly[0], hourly[1], hourly[2], hourly[3] = 10, 10, 10, 10
	root := parseChart(t, hourly, 25)
	bars := byClass(root.all("rect"), "bar")
	over := byClass(bars, "over")
	if len(bars) != 4 || len(over) != 2 {
		t.Fatalf("%d bars, %d over; want 4 and 2", len(bars), len(over))
	}
	// The scale grows to fit the usage (40 -> 50) so nothing is clipped.
	lim := byClass(root.all("line"), "limit")[0]
	if got, want := num(t, lim.attr("y1")), chartTop+plotH-25.0/50*plotH; fmt.Sprintf("%.1f", got) != fmt.Sprintf("%.1f", want) {
		t.Errorf("limit at y=%v, want %v", got, want)
	}
}

func TestUsageChartEmptyAndZeroLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hourly []int
		limit  int
	}{
		{nil, 0}, {make([]int, 24), 0}, {make([]int, 24), 1_000_000}, {[]int{-3, 5}, 0},
	} {
		root := parseChart(t, tc.hourly, tc.limit)
		if n := len(byClass(root.all("line"), "limit")); n != 1 {
			t.Errorf("%v/%d: %d limit lines", tc.hourly, tc.limit, n)
		}
	}
	// A license with no executions draws no bars.
	if bars := byClass(parseChart(t, nil, 100).all("rect"), "bar"); len(bars) != 0 {
		t.Errorf("%d bars for an empty window", len(bars))
	}
}

func TestNiceCeilAndCompact(t *testing.T) {
	t.Parallel()
	for v, want := range map[int]int{0: 1, 1: 1, 3: 5, 7: 10, 10: 10, 11: 20, 21: 25, 26: 50, 100: 100, 101: 200, 240: 250, 999_999: 1_000_000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", v, got, want)
		}
	}
	for v, want := range map[int]string{0: "0", 999: "999", 9999: "9999", 25_000: "25k", 1_500_000: "1.5M"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	if _, err := parsePages(); err != nil {
		t.Fatal(err)
	}
}
