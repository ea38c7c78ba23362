package bench

import (
	"context"
	"net"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Load describes one closed-loop HTTP load: Clients workers, each sending
// its next request as soon as the previous one was answered, for Duration,
// over keep-alive connections.
type Load struct {
	Name     string
	Clients  int
	Duration time.Duration
	// Warmup is run first with the same settings and not measured: it opens
	// the connections and warms the server's caches and the pool.
	Warmup time.Duration
	// Targeter yields the next request; it is called from every worker at
	// once, so it must be safe for concurrent use.
	Targeter vegeta.Targeter
	// OK is the status a successful response has (200 when zero).
	OK int
	// OnResult, when set, sees every measured result (from one goroutine).
	OnResult func(*vegeta.Result)
}

// RunLoad runs l with vegeta and summarises it. Vegeta runs with exactly
// l.Clients workers and an unlimited rate (Rate{Freq: 0}), which makes each
// worker a closed-loop client: this measures the service's capacity, not a
// chosen arrival rate.
func RunLoad(ctx context.Context, l Load) Stats {
	ok := l.OK
	if ok == 0 {
		ok = http.StatusOK
	}
	// One transport for the warm-up and the measured run, so the measured
	// run starts on open keep-alive connections.
	tr := &http.Transport{
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: l.Clients,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	newAttacker := func() *vegeta.Attacker {
		return vegeta.NewAttacker(
			vegeta.Client(&http.Client{Transport: tr}),
			vegeta.Timeout(30*time.Second),
			vegeta.Redirects(vegeta.NoFollow),
			vegeta.Workers(uint64(l.Clients)),
			vegeta.MaxWorkers(uint64(l.Clients)),
		)
	}
	unlimited := vegeta.Rate{Freq: 0}
	if l.Warmup > 0 {
		for range attack(ctx, newAttacker(), l.Targeter, unlimited, l.Warmup, l.Name+"-warmup") {
		}
	}

	var (
		s         = Stats{StatusCodes: map[int]int{}}
		latencies = make([]time.Duration, 0, 1<<16)
		first     time.Time
		last      time.Time
	)
	for r := range attack(ctx, newAttacker(), l.Targeter, unlimited, l.Duration, l.Name) {
		s.Requests++
		s.StatusCodes[int(r.Code)]++
		if l.OnResult != nil {
			l.OnResult(r)
		}
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.End(); end.After(last) {
			last = end
		}
		if int(r.Code) != ok || r.Error != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = firstError(r)
			}
			continue
		}
		latencies = append(latencies, r.Latency)
	}
	if !first.IsZero() {
		s.Seconds = last.Sub(first).Seconds()
	}
	summarise(&s, latencies)
	return s
}

// attack runs one vegeta attack and stops it early when ctx is cancelled.
func attack(ctx context.Context, a *vegeta.Attacker, tr vegeta.Targeter, p vegeta.Pacer, d time.Duration, name string) <-chan *vegeta.Result {
	results := a.Attack(tr, p, d, name)
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	out := make(chan *vegeta.Result, 1024)
	go func() {
		defer close(out)
		defer stop()
		for r := range results {
			out <- r
		}
	}()
	return out
}

func firstError(r *vegeta.Result) string {
	msg := r.Error
	if len(r.Body) > 0 {
		body := string(r.Body)
		if len(body) > 300 {
			body = body[:300]
		}
		msg += ": " + body
	}
	return msg
}
