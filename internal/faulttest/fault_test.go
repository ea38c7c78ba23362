package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// recoveryBound is how soon the service must serve again once PostgreSQL
// is back, without being restarted itself.
const recoveryBound = 10 * time.Second

type license struct {
	ID, Token string
	App       string
	MaxApps   int
	MaxExecs  int
}

var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// call sends one request and checks the answer against api/openapi.yaml.
// It reports transport errors as status 0 instead of failing, so it can
// run in any goroutine.
func call(t *testing.T, ctx context.Context, base, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	apitest.CheckResponse(t, req, resp.StatusCode, resp.Header, data)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, resp.Header, m
}

func newEnv(t *testing.T, opts ...apitest.Option) *apitest.Env {
	t.Helper()
	if pgtest.Cluster() == nil {
		t.Skip("fault tests restart the private test cluster; TEST_DATABASE_URL is set")
	}
	env := apitest.New(t, append([]apitest.Option{func(c *config.Config) {
		c.PoolSize = 8
		c.LockTimeout = 300 * time.Millisecond
		c.StatementTimeout = 3 * time.Second
		c.RequestTimeout = 5 * time.Second
	}}, opts...)...)
	// The test cluster trades durability for speed (synchronous_commit off:
	// a commit is acknowledged before its WAL is flushed, and an immediate
	// shutdown loses it). The promise "every 201 has its row" holds with
	// PostgreSQL's default, synchronous_commit on, which this database gets.
	ctx := context.Background()
	var db string
	if err := env.Owner.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Owner.Exec(ctx, "ALTER DATABASE "+db+" SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	env.Owner.Reset()
	env.App.Pool.Reset()
	return env
}

// newLicense creates a license through the admin API and registers one
// application for it.
func newLicense(t *testing.T, env *apitest.Env, tenant string, maxApps, maxExecs int) license {
	t.Helper()
	r := env.Do(http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{
		"tenant_id": tenant, "tenant_name": tenant, "max_apps": maxApps, "max_executions_per_24h": maxExecs,
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("create license: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	l := license{ID: m["id"].(string), Token: m["token"].(string), MaxApps: maxApps, MaxExecs: maxExecs}
	r = env.Do(http.MethodPost, "/api/apps/register", l.Token, map[string]any{"name": "base"})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	l.App = r.JSON(t)["id"].(string)
	return l
}

// waitServing polls until jobs/start is answered with something other than
// 503, and fails the test when that takes longer than the bound.
func waitServing(t *testing.T, env *apitest.Env, l license, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, _, body := call(t, context.Background(), env.Server.URL, http.MethodGet, "/api/quota", l.Token, nil)
		if st == http.StatusOK {
			return time.Since(start)
		}
		if st != http.StatusServiceUnavailable {
			t.Fatalf("while recovering: %d %v", st, body)
		}
		if time.Since(start) > bound {
			t.Fatalf("the service did not recover within %s of the database coming back", bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type outcome struct {
	license int
	kind    string // app or job
	id      string
}

// load runs 32 clients calling apps/register and jobs/start on the
// licenses until stop is closed, and returns every 201 they received and
// the count of each status. Anything but 201, 403 APP_LIMIT_REACHED, 429
// EXECUTION_QUOTA_EXCEEDED and 503 SERVICE_UNAVAILABLE with Retry-After
// fails the test.
func load(t *testing.T, env *apitest.Env, lics []license, stop <-chan struct{}, done *atomic.Int64) ([]outcome, map[int]int) {
	var mu sync.Mutex
	var created []outcome
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				li := (c + i) % len(lics)
				l := lics[li]
				path, body, kind := "/api/jobs/start", any(map[string]any{"application_id": l.App, "name": "j"}), "job"
				if i%3 == 0 {
					path, body, kind = "/api/apps/register", map[string]any{"name": fmt.Sprintf("app-%d-%d", c, i)}, "app"
				}
				st, h, m := call(t, context.Background(), env.Server.URL, http.MethodPost, path, l.Token, body)
				done.Add(1)
				mu.Lock()
				statuses[st]++
				if st == http.StatusCreated {
					created = append(created, outcome{li, kind, m["id"].(string)})
				}
				mu.Unlock()
				switch {
				case st == http.StatusCreated:
				case st == http.StatusForbidden && m["code"] == "APP_LIMIT_REACHED":
				case st == http.StatusTooManyRequests && m["code"] == "EXECUTION_QUOTA_EXCEEDED":
				case st == http.StatusServiceUnavailable && m["code"] == "SERVICE_UNAVAILABLE" && h.Get("Retry-After") != "":
				default:
					t.Errorf("client %d: %s -> %d %v", c, path, st, m)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	return created, statuses
}

// checkCommitted compares the clients' 201s with the database: every
// answered id has its row, and no license holds more than its limits.
func checkCommitted(t *testing.T, env *apitest.Env, lics []license, created []outcome) {
	t.Helper()
	ctx := context.Background()
	for _, o := range created {
		table := map[string]string{"app": "applications", "job": "jobs"}[o.kind]
		var n int
		if err := env.Owner.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id = $1 AND license_id = $2", o.id, lics[o.license].ID).Scan(&n); err != nil || n != 1 {
			t.Errorf("a 201 for %s %s has no committed row (%d, %v)", o.kind, o.id, n, err)
		}
	}
	for _, l := range lics {
		var apps, execs int
		err := env.Owner.QueryRow(ctx, `SELECT
		    (SELECT count(*) FROM applications WHERE license_id = $1 AND is_active),
		    (SELECT count(*) FROM jobs WHERE license_id = $1 AND started_at > now() - interval '24 hours')`, l.ID).Scan(&apps, &execs)
		if err != nil {
			t.Fatal(err)
		}
		if apps > l.MaxApps || execs > l.MaxExecs {
			t.Errorf("license %s over its limits: %d/%d apps, %d/%d executions", l.ID, apps, l.MaxApps, execs, l.MaxExecs)
		}
	}
}

// TestRestartUnderLoad restarts PostgreSQL, fast and then immediate, while
// 32 clients register applications and start jobs on three licenses (one
// with small limits that the load reaches): nothing is over-admitted, every
// 201 a client got has its committed row, and the service serves again
// within recoveryBound of the database coming back, by itself.
func TestRestartUnderLoad(t *testing.T) {
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) {
			env := newEnv(t)
			lics := []license{
				newLicense(t, env, "small-"+mode, 5, 40),
				newLicense(t, env, "large-a-"+mode, 100000, 100000),
				newLicense(t, env, "large-b-"+mode, 100000, 100000),
			}
			stop := make(chan struct{})
			var done atomic.Int64
			var created []outcome
			var statuses map[int]int
			finished := make(chan struct{})
			go func() {
				created, statuses = load(t, env, lics, stop, &done)
				close(finished)
			}()
			for done.Load() < 200 {
				time.Sleep(5 * time.Millisecond)
			}
			if err := pgtest.Cluster().Restart(context.Background(), mode); err != nil {
				t.Fatalf("restart: %v", err)
			}
			took := waitServing(t, env, lics[1], recoveryBound)
			before := done.Load()
			for done.Load() < before+200 {
				time.Sleep(5 * time.Millisecond)
			}
			close(stop)
			<-finished
			env.Owner.Reset()
			t.Logf("%s restart: statuses %v, served again %s after the database was back", mode, statuses, took.Round(time.Millisecond))
			if statuses[http.StatusCreated] == 0 {
				t.Fatal("nothing was admitted")
			}
			checkCommitted(t, env, lics, created)
		})
	}
}

// TestDatabaseDown stops PostgreSQL: the service fails closed (503
// SERVICE_UNAVAILABLE with Retry-After on every path that needs the
// database, nothing admitted), stays alive (/healthz), reports not ready,
// and serves again within recoveryBound of the database starting again.
func TestDatabaseDown(t *testing.T) {
	env := newEnv(t)
	l := newLicense(t, env, "down", 100, 100)
	ctx := context.Background()
	count := func() (n int) {
		if err := env.Owner.QueryRow(ctx, "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM applications)").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows := count()
	if err := pgtest.Cluster().StopMode(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	started := false
	defer func() {
		if !started {
			_ = pgtest.Cluster().StartAgain(ctx)
		}
	}()
	base := env.Server.URL
	for _, c := range []struct {
		method, path, token string
		body                any
	}{
		{http.MethodPost, "/api/jobs/start", l.Token, map[string]any{"application_id": l.App, "name": "j"}},
		{http.MethodPost, "/api/apps/register", l.Token, map[string]any{"name": "while-down"}},
		{http.MethodPost, "/jobs/start", l.Token, map[string]any{"application_id": l.App, "name": "j"}},
		{http.MethodGet, "/api/quota", l.Token, nil},
		{http.MethodGet, "/api/jobs", l.Token, nil},
		{http.MethodGet, "/api/licenses", env.AdminToken, nil},
		{http.MethodPost, "/api/licenses", env.AdminToken, map[string]any{"tenant_id": "x", "tenant_name": "x", "max_apps": 1, "max_executions_per_24h": 1}},
		{http.MethodGet, "/readyz", "", nil},
	} {
		for i := 0; i < 3; i++ {
			st, h, m := call(t, ctx, base, c.method, c.path, c.token, c.body)
			if st != http.StatusServiceUnavailable || m["code"] != "SERVICE_UNAVAILABLE" || h.Get("Retry-After") == "" {
				t.Fatalf("%s %s while the database is down: %d %v (Retry-After %q)", c.method, c.path, st, m, h.Get("Retry-After"))
			}
		}
	}
	if st, _, _ := call(t, ctx, base, http.MethodGet, "/healthz", "", nil); st != http.StatusOK {
		t.Fatalf("healthz while the database is down: %d", st)
	}
	if err := pgtest.Cluster().StartAgain(ctx); err != nil {
		t.Fatal(err)
	}
	started = true
	took := waitServing(t, env, l, recoveryBound)
	env.Owner.Reset() // its connections died with the server
	t.Logf("served again %s after the database was back", took.Round(time.Millisecond))
	if n := count(); n != rows {
		t.Fatalf("rows %d after the outage, want %d: something was admitted while down", n, rows)
	}
	if st, _, m := call(t, ctx, base, http.MethodPost, "/api/jobs/start", l.Token, map[string]any{"application_id": l.App, "name": "after"}); st != http.StatusCreated {
		t.Fatalf("start after recovery: %d %v", st, m)
	}
}

// TestLicenseRowLockedElsewhere holds a license row locked in another
// session: calls on that license end with 503 within the lock timeout
// instead of hanging, other licenses are served meanwhile, the pool never
// grows past its size, and the license works again once the lock goes.
func TestLicenseRowLockedElsewhere(t *testing.T) {
	env := newEnv(t)
	locked := newLicense(t, env, "locked", 100, 1000)
	free := newLicense(t, env, "free", 100, 1000)
	ctx := context.Background()
	tx, err := env.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT id FROM licenses WHERE id = $1 FOR UPDATE", locked.ID); err != nil {
		t.Fatal(err)
	}
	maxConns := env.App.Pool.Config().MaxConns
	var wg sync.WaitGroup
	var peak atomic.Int32
	for i := 0; i < 3*int(maxConns); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path, body := "/api/jobs/start", any(map[string]any{"application_id": locked.App, "name": "j"})
			if i%2 == 0 {
				path, body = "/api/apps/register", map[string]any{"name": fmt.Sprintf("a%d", i)}
			}
			st, h, m := call(t, ctx, env.Server.URL, http.MethodPost, path, locked.Token, body)
			if n := env.App.Pool.Stat().TotalConns(); n > peak.Load() {
				peak.Store(n)
			}
			if st != http.StatusServiceUnavailable || m["code"] != "SERVICE_UNAVAILABLE" || h.Get("Retry-After") == "" {
				t.Errorf("%s on a locked license: %d %v", path, st, m)
			}
		}(i)
	}
	if st, _, m := call(t, ctx, env.Server.URL, http.MethodPost, "/api/jobs/start", free.Token, map[string]any{"application_id": free.App, "name": "j"}); st != http.StatusCreated {
		t.Errorf("another license while one is locked: %d %v", st, m)
	}
	wg.Wait()
	if p := peak.Load(); p > maxConns {
		t.Errorf("the pool grew to %d connections, its size is %d", p, maxConns)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var jobs int
	if err := env.Owner.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE license_id = $1", locked.ID).Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("jobs admitted on the locked license: %d %v", jobs, err)
	}
	if st, _, m := call(t, ctx, env.Server.URL, http.MethodPost, "/api/jobs/start", locked.Token, map[string]any{"application_id": locked.App, "name": "j"}); st != http.StatusCreated {
		t.Fatalf("after the lock is released: %d %v", st, m)
	}
}

// TestClientDisconnectsMidRequest: a client gives up while its jobs/start
// waits for the license lock; the server abandons the work, rolls back,
// and leaves no job, no open transaction and no connection behind.
func TestClientDisconnectsMidRequest(t *testing.T) {
	env := newEnv(t, func(c *config.Config) {
		c.LockTimeout = 30 * time.Second
		c.StatementTimeout = 30 * time.Second
		c.RequestTimeout = 30 * time.Second
	})
	l := newLicense(t, env, "leaver", 100, 1000)
	ctx := context.Background()
	tx, err := env.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT id FROM licenses WHERE id = $1 FOR UPDATE", l.ID); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gone := make(chan int, 1)
	go func() {
		st, _, _ := call(t, cctx, env.Server.URL, http.MethodPost, "/api/jobs/start", l.Token, map[string]any{"application_id": l.App, "name": "left"})
		gone <- st
	}()
	waiting := func() (n int) {
		err := env.Owner.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'licensingd' AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for waiting() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if st := <-gone; st != 0 {
		t.Fatalf("the client got an answer (%d) after giving up", st)
	}
	// The server notices, cancels the statement and rolls back.
	for waiting() != 0 || env.App.Pool.Stat().AcquiredConns() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var jobs, inTx int
	if err := env.Owner.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE license_id = $1", l.ID).Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("the abandoned start left %d jobs (%v)", jobs, err)
	}
	if err := env.Owner.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'licensingd' AND state LIKE 'idle in transaction%'`).Scan(&inTx); err != nil || inTx != 0 {
		t.Fatalf("%d sessions left idle in a transaction (%v)", inTx, err)
	}
	if st, _, m := call(t, ctx, env.Server.URL, http.MethodPost, "/api/jobs/start", l.Token, map[string]any{"application_id": l.App, "name": "after"}); st != http.StatusCreated {
		t.Fatalf("after the disconnect: %d %v", st, m)
	}
}
