package bench

import (
	"math"
	"slices"
	"time"
)

// Stats summarises one measured point: how many requests (or pgbench
// transactions) completed, how many failed, over how long, and the latency
// distribution of the successful ones.
type Stats struct {
	// Requests counts every completed request, failed ones included.
	Requests int `json:"requests"`
	// Errors counts failed requests (transport errors and unexpected statuses).
	Errors int `json:"errors"`
	// Seconds is the measured span: first request sent to last response.
	Seconds float64 `json:"seconds"`
	// Throughput is successful requests per second over Seconds.
	Throughput float64 `json:"throughput"`
	// P50, P95 and P99 are latency percentiles in milliseconds.
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	// Max is the slowest successful request in milliseconds.
	Max float64 `json:"max_ms"`
	// StatusCodes counts the HTTP statuses seen (HTTP points only).
	StatusCodes map[int]int `json:"status_codes,omitempty"`
	// FirstError is one error message, to tell what failed.
	FirstError string `json:"first_error,omitempty"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p percent of
// the values are less than or equal to it. It returns 0 for no values.
// Nearest rank never interpolates, so a reported p99 is a latency some
// request actually had.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

// summarise fills the latency fields of s from the successful requests'
// latencies, and the throughput from their count over s.Seconds.
func summarise(s *Stats, latencies []time.Duration) {
	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.P50 = ms(Percentile(latencies, 50))
	s.P95 = ms(Percentile(latencies, 95))
	s.P99 = ms(Percentile(latencies, 99))
	if n := len(latencies); n > 0 {
		s.Max = ms(latencies[n-1])
	}
	if s.Seconds > 0 {
		s.Throughput = float64(len(latencies)) / s.Seconds
	}
}
