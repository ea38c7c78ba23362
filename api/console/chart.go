package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// The chart's geometry, in SVG user units; the SVG scales to its box.
const (
	chartW      = 720.0
	chartH      = 240.0
	chartLeft   = 56.0
	chartRight  = 72.0
	chartTop    = 16.0
	chartBottom = 28.0
	plotW       = chartW - chartLeft - chartRight
	plotH       = chartH - chartTop - chartBottom
)

// UsageChart draws the executions started in each hour of the last 24 hours
// (hourly, oldest first; the last bucket ends now) against limit, the
// executions allowed in any 24 hours, as an inline SVG: a bar per hour, a
// line for the running total across the window (its end is the window's
// count, the figure the quota decision compares with the limit) and a dashed
// line at the limit. Bars from the hour the running total passed the limit
// on (possible after a downgrade) are marked "over".
//
// The SVG holds only numbers and fixed words, so it is safe as
// template.HTML. It draws with classes (see static/console.css), not inline
// styles, to keep the Content-Security-Policy strict.
func UsageChart(hourly []int, limit int) template.HTML {
	if len(hourly) == 0 {
		hourly = make([]int, 24)
	}
	n := len(hourly)
	total, peak := 0, 0
	for _, c := range hourly {
		if c < 0 {
			c = 0
		}
		total += c
		peak = max(peak, c)
	}
	top := niceCeil(max(limit, total, peak, 1))
	y := func(v int) float64 { return chartTop + plotH - float64(v)/float64(top)*plotH }
	slot := plotW / float64(n)

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	w(`<title id="chart-title">Executions per hour, last %d hours: %d of %d allowed</title>`, n, total, limit)
	w(`<desc id="chart-desc">Bars: executions started in each hour. Line: running total across the window. Dashed line: the limit of %d executions in any 24 hours.</desc>`, limit)

	// Grid and y labels at 0, half and the top of the scale.
	for _, v := range []int{0, top / 2, top} {
		w(`<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, chartLeft, y(v), chartLeft+plotW, y(v))
		w(`<text class="axis" x="%g" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y(v)+4, compact(v))
	}
	// x labels every 6 hours, counted back from now.
	for i := 0; i <= n; i += 6 {
		label := "now"
		if i < n {
			label = fmt.Sprintf("−%dh", n-i)
		}
		anchor := "middle"
		if i == n {
			anchor = "end"
		}
		w(`<text class="axis" x="%.1f" y="%g" text-anchor="%s">%s</text>`, chartLeft+float64(i)*slot, chartH-8, anchor, label)
	}

	// Bars and the running total.
	var line strings.Builder
	fmt.Fprintf(&line, "%g,%.1f", chartLeft, y(0))
	cum := 0
	for i, c := range hourly {
		c = max(c, 0)
		cum += c
		if c > 0 {
			class := "bar"
			if cum > limit {
				class = "bar over"
			}
			h := float64(c) / float64(top) * plotH
			w(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d executions, %s</title></rect>`,
				class, chartLeft+float64(i)*slot+slot*0.15, chartTop+plotH-h, slot*0.7, h, c, hourSpan(n-i))
		}
		fmt.Fprintf(&line, " %.1f,%.1f", chartLeft+float64(i+1)*slot, y(cum))
	}
	w(`<polyline class="total" points="%s"/>`, line.String())

	// The limit, labelled at the right edge.
	w(`<line class="limit" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, chartLeft, y(limit), chartLeft+plotW, y(limit))
	w(`<text class="limit-label" x="%g" y="%.1f">limit %s</text>`, chartLeft+plotW+4, y(limit)+4, compact(limit))
	w(`<text class="total-label" x="%g" y="%.1f">%s used</text>`, chartLeft+plotW+4, labelBelow(y(total), y(limit)), compact(total))
	w(`</svg>`)
	return template.HTML(b.String())
}

// labelBelow keeps the "used" label from overprinting the limit label.
func labelBelow(yTotal, yLimit float64) float64 {
	ly := yTotal + 4
	if math.Abs(ly-(yLimit+4)) < 14 {
		ly = yLimit + 4 + 14
	}
	return min(ly, chartTop+plotH+4)
}

// hourSpan names the hour that ended hoursAgo-1 hours ago.
func hourSpan(hoursAgo int) string {
	if hoursAgo == 1 {
		return "the last hour"
	}
	return fmt.Sprintf("%d–%d hours ago", hoursAgo, hoursAgo-1)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, so the axis
// labels are round numbers.
func niceCeil(v int) int {
	if v <= 1 {
		return 1
	}
	p := 1
	for p*10 < v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if c := int(m * float64(p)); c >= v && (m != 2.5 || p >= 10) {
			return c
		}
	}
	return 10 * p
}

// compact writes 1500 as 1.5k and 2000000 as 2M.
func compact(v int) string {
	switch {
	case v >= 1_000_000:
		return trimZero(float64(v)/1e6) + "M"
	case v >= 10_000:
		return trimZero(float64(v)/1e3) + "k"
	}
	return fmt.Sprint(v)
}

func trimZero(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}
