package bench

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// timing splits each request of a measured attack into the time its
// database calls took and the rest, in the service's own process: an
// http.Handler around the router notes when a request started and ended,
// and a pgx tracer on the service's pool adds up the time of every
// statement run with the request's context (BEGIN and COMMIT included).
// Joined with the client's latency (by vegeta's X-Vegeta-Seq header), it
// gives the cost of HTTP, token verification and JSON beyond the database
// per request, free of the commit latency's noise, which a difference of
// two separately measured latency distributions is not.
type timing struct {
	mu     sync.Mutex
	attack string
	byseq  map[string]*requestTiming
}

type requestTiming struct {
	db      atomic.Int64 // nanoseconds in database calls
	queries atomic.Int64 // database calls (BEGIN and COMMIT included)
	server  time.Duration
}

type timingKey struct{}

type queryStartKey struct{}

// start records the requests of the attack called name from now on.
func (t *timing) start(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.attack, t.byseq = name, map[string]*requestTiming{}
}

// stop ends the recording and returns what was recorded, by sequence.
func (t *timing) stop() map[string]*requestTiming {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byseq
	t.attack, t.byseq = "", nil
	return m
}

func (t *timing) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t.mu.Lock()
		on := t.attack != "" && req.Header.Get("X-Vegeta-Attack") == t.attack
		t.mu.Unlock()
		if !on {
			h.ServeHTTP(w, req)
			return
		}
		rt := &requestTiming{}
		start := time.Now()
		h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), timingKey{}, rt)))
		rt.server = time.Since(start)
		t.mu.Lock()
		if t.byseq != nil {
			t.byseq[req.Header.Get("X-Vegeta-Seq")] = rt
		}
		t.mu.Unlock()
	})
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *timing) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if _, ok := ctx.Value(timingKey{}).(*requestTiming); ok {
		return context.WithValue(ctx, queryStartKey{}, time.Now())
	}
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *timing) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	rt, ok := ctx.Value(timingKey{}).(*requestTiming)
	start, ok2 := ctx.Value(queryStartKey{}).(time.Time)
	if ok && ok2 {
		rt.db.Add(int64(time.Since(start)))
		rt.queries.Add(1)
	}
}

// Beyond is the cost of a service point's requests beyond their database
// calls, in milliseconds.
type Beyond struct {
	// Requests is how many successful requests were joined.
	Requests int `json:"requests"`
	// P50 and P99 are of the client's latency minus the request's time in
	// database calls: HTTP both ways, admission, token verification (but
	// not its database read), JSON, the handler and the pool.
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	// ServerP50 and ServerP99 are the same inside the server only.
	ServerP50 float64 `json:"server_p50_ms"`
	ServerP99 float64 `json:"server_p99_ms"`
	// DBP50 and DBP99 are of the time in database calls per request.
	DBP50 float64 `json:"db_p50_ms"`
	DBP99 float64 `json:"db_p99_ms"`
	// Statements is the median number of database round trips per
	// request (BEGIN and COMMIT included).
	Statements int64 `json:"statements"`
}

// beyond joins the client's results with the server's timings.
func beyond(results map[string]time.Duration, server map[string]*requestTiming) *Beyond {
	var (
		client, inServer, db []time.Duration
		queries              []int64
	)
	for seq, lat := range results {
		rt, ok := server[seq]
		if !ok {
			continue
		}
		d := time.Duration(rt.db.Load())
		client = append(client, lat-d)
		inServer = append(inServer, rt.server-d)
		db = append(db, d)
		queries = append(queries, rt.queries.Load())
	}
	if len(client) == 0 {
		return nil
	}
	var b Beyond
	b.Requests = len(client)
	var s Stats
	summarise(&s, client)
	b.P50, b.P99 = s.P50, s.P99
	summarise(&s, inServer)
	b.ServerP50, b.ServerP99 = s.P50, s.P99
	summarise(&s, db)
	b.DBP50, b.DBP99 = s.P50, s.P99
	slices.Sort(queries)
	b.Statements = queries[len(queries)/2]
	return &b
}

// runTimed runs l with the server's timings recorded and returns the
// point's stats with the cost beyond the database.
func (r *Runner) runTimed(ctx context.Context, l Load) (Stats, *Beyond) {
	ok := l.OK
	if ok == 0 {
		ok = http.StatusOK
	}
	results := map[string]time.Duration{}
	l.OnResult = func(res *vegeta.Result) {
		if int(res.Code) == ok && res.Error == "" {
			results[fmtSeq(res.Seq)] = res.Latency
		}
	}
	r.timing.start(l.Name)
	s := RunLoad(ctx, l)
	return s, beyond(results, r.timing.stop())
}

func fmtSeq(seq uint64) string { return strconv.FormatUint(seq, 10) }
