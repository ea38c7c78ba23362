package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// healthz is the HTTP ceiling: the same load against GET /healthz, which
// does no database work, token verification or body parsing. The gap
// between it and jobs.start beyond the database is what those cost.
func (r *Runner) healthz(ctx context.Context) error {
	target := vegeta.Target{Method: http.MethodGet, URL: r.baseURL + "/healthz"}
	for _, c := range r.cfg.Clients {
		cpu := takeCPU()
		s := RunLoad(ctx, Load{
			Name: "healthz", Clients: c, Duration: r.cfg.Duration, Warmup: r.cfg.Warmup,
			Targeter: vegeta.NewStaticTargeter(target),
		})
		r.add(Point{Phase: PhaseHealthz, Side: SideService, Clients: c, Stats: s, CPU: cpu.since(s.Throughput)})
	}
	return ctx.Err()
}

// fixture is one license as a client of the service sees it.
type fixture struct {
	n      int
	header http.Header
	body   []byte
}

// fixtures issues a license token for each of the fixture licenses
// from..to and builds its POST /api/jobs/start request body.
func (r *Runner) fixtures(ctx context.Context, from, to int) ([]fixture, error) {
	if r.issue == nil {
		return nil, fmt.Errorf("%w: no license tokens yet (internal/tokens)", errSkip)
	}
	fx := make([]fixture, 0, to-from+1)
	for n := from; n <= to; n++ {
		tok, err := r.issue(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("issue a token for license %d: %w", n, err)
		}
		body, _ := json.Marshal(map[string]string{"application_id": appID(n).String(), "name": "bench"})
		fx = append(fx, fixture{n: n, body: body, header: http.Header{
			"Authorization": {"Bearer " + tok},
			"Content-Type":  {"application/json"},
		}})
	}
	return fx, nil
}

// jobsTargeter sends POST /api/jobs/start for a fixture chosen at random.
func (r *Runner) jobsTargeter(fx []fixture) vegeta.Targeter {
	url := r.baseURL + "/api/jobs/start"
	return func(t *vegeta.Target) error {
		f := fx[rand.IntN(len(fx))]
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, url, f.body, f.header
		return nil
	}
}

// probe sends one request of tr and checks it gets the status ok, so a
// missing route or a refused token fails fast with the answer.
func (r *Runner) probe(ctx context.Context, tr vegeta.Targeter, ok int) error {
	var t vegeta.Target
	if err := tr(&t); err != nil {
		return err
	}
	req, err := t.Request()
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
	if resp.StatusCode == http.StatusNotFound && strings.Contains(string(body), "no such endpoint") {
		return fmt.Errorf("%w: %s %s does not exist yet", errSkip, t.Method, t.URL)
	}
	if resp.StatusCode != ok {
		return fmt.Errorf("probe %s %s: status %d, want %d: %s", t.Method, t.URL, resp.StatusCode, ok, body)
	}
	return nil
}

// serviceSide measures the service unless it cannot run yet, in which
// case it notes why once and returns false.
func (r *Runner) serviceSide(ctx context.Context, what string, run func() error) error {
	err := run()
	if errors.Is(err, errSkip) {
		if !r.skipped[what] {
			r.skipped[what] = true
			r.note(fmt.Sprintf("%s, service side: %v", what, err))
		}
		return nil
	}
	return err
}

// jobStart compares POST /api/jobs/start with its ceiling for one hot
// license and for Licenses licenses chosen at random, at each client
// count. Each hot point gets fresh licenses; the ceiling and the service
// run back to back so they see the same machine.
func (r *Runner) jobStart(ctx context.Context) error {
	if _, err := r.query("jobs.sql", "JobStart"); err != nil {
		return err
	}
	if err := r.seedLicenses(ctx, 1, r.cfg.Licenses); err != nil {
		return err
	}
	spread, spreadErr := r.fixtures(ctx, 1, r.cfg.Licenses)
	if spreadErr != nil && !errors.Is(spreadErr, errSkip) {
		return spreadErr
	}
	for _, licenses := range []int{1, r.cfg.Licenses} {
		for _, c := range r.cfg.Clients {
			lo, hi := 1, r.cfg.Licenses
			if licenses == 1 {
				lo = r.nextHot()
				hi = lo
				if err := r.seedLicenses(ctx, lo, lo); err != nil {
					return err
				}
			}
			script, err := r.jobStartScript(lo, hi)
			if err != nil {
				return err
			}
			r.script("jobs.start", script)
			cpu := takeCPU()
			s, err := RunPgbench(ctx, r.cluster, Pgbench{Name: "jobs.start", Script: script, Clients: c,
				Duration: r.cfg.Duration, Warmup: r.cfg.Warmup, DB: r.dbName}, threads())
			if err != nil {
				return err
			}
			r.add(Point{Phase: PhaseJobStart, Side: SideCeiling, Licenses: licenses, Clients: c, Stats: s, CPU: cpu.since(s.Throughput)})
			if licenses > 1 && c >= 16 {
				// Every statement the service runs: how much of the gap is
				// the token check's read.
				withRead, err := r.withTokenRead(script)
				if err != nil {
					return err
				}
				r.script("jobs.start with the token read", withRead)
				cpu := takeCPU()
				s, err := RunPgbench(ctx, r.cluster, Pgbench{Name: "jobs.start+token", Script: withRead, Clients: c,
					Duration: r.cfg.Duration, Warmup: r.cfg.Warmup, DB: r.dbName}, threads())
				if err != nil {
					return err
				}
				r.add(Point{Phase: PhaseJobStart, Side: SideCeilingToken, Licenses: licenses, Clients: c, Stats: s, CPU: cpu.since(s.Throughput)})
			}

			err = r.serviceSide(ctx, "jobs.start", func() error {
				fx := spread
				if licenses == 1 {
					n := r.nextHot()
					if err := r.seedLicenses(ctx, n, n); err != nil {
						return err
					}
					var err error
					if fx, err = r.fixtures(ctx, n, n); err != nil {
						return err
					}
				} else if spreadErr != nil {
					return spreadErr
				}
				tr := r.jobsTargeter(fx)
				if err := r.probe(ctx, tr, http.StatusCreated); err != nil {
					return err
				}
				cpu := takeCPU()
				s, b := r.runTimed(ctx, Load{Name: fmt.Sprintf("jobs.start-%d-%d", licenses, c), Clients: c, Duration: r.cfg.Duration, Warmup: r.cfg.Warmup,
					Targeter: tr, OK: http.StatusCreated})
				r.add(Point{Phase: PhaseJobStart, Side: SideService, Licenses: licenses, Clients: c, Stats: s, CPU: cpu.since(s.Throughput), Beyond: b})
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (r *Runner) nextHot() int {
	r.hot++
	return hotBase + r.hot
}

// window measures one decision at a time (one client) for licenses whose
// window already holds each of Windows executions, seeded in bulk as
// JobStart would have numbered them.
func (r *Runner) window(ctx context.Context) error {
	if _, err := r.query("jobs.sql", "JobStart"); err != nil {
		return err
	}
	for i, size := range r.cfg.Windows {
		n := windowBase + i
		if err := r.seedLicenses(ctx, n, n); err != nil {
			return err
		}
		start := time.Now()
		if err := r.seedWindow(ctx, n, size); err != nil {
			return err
		}
		r.log.Info("bench: window seeded", "executions", size, "took", time.Since(start).Round(time.Millisecond))
	}
	// What autovacuum would have done by the time a window is this full:
	// statistics for the planner, the visibility map for index-only scans.
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE jobs"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "RESET statement_timeout"); err != nil {
		return err
	}
	for i, size := range r.cfg.Windows {
		n := windowBase + i
		script, err := r.jobStartScript(n, n)
		if err != nil {
			return err
		}
		times, buffers, err := r.explainJobStart(ctx, n, 25)
		if err != nil {
			return err
		}
		st := Stats{Requests: len(times)}
		summarise(&st, times)
		st.Throughput = 0
		r.add(Point{Phase: PhaseWindow, Side: SideStatement, Licenses: 1, Clients: 1, Window: size, Stats: st, Buffers: buffers})
		cpu := takeCPU()
		s, err := RunPgbench(ctx, r.cluster, Pgbench{Name: "window", Script: script, Clients: 1,
			Duration: r.cfg.WindowDuration, Warmup: r.cfg.Warmup, DB: r.dbName}, 1)
		if err != nil {
			return err
		}
		r.add(Point{Phase: PhaseWindow, Side: SideCeiling, Licenses: 1, Clients: 1, Window: size, Stats: s, CPU: cpu.since(s.Throughput)})
		err = r.serviceSide(ctx, "window", func() error {
			fx, err := r.fixtures(ctx, n, n)
			if err != nil {
				return err
			}
			tr := r.jobsTargeter(fx)
			if err := r.probe(ctx, tr, http.StatusCreated); err != nil {
				return err
			}
			cpu := takeCPU()
			s, b := r.runTimed(ctx, Load{Name: fmt.Sprintf("window-%d", size), Clients: 1, Duration: r.cfg.WindowDuration, Warmup: r.cfg.Warmup,
				Targeter: tr, OK: http.StatusCreated})
			r.add(Point{Phase: PhaseWindow, Side: SideService, Licenses: 1, Clients: 1, Window: size, Stats: s, CPU: cpu.since(s.Throughput), Beyond: b})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// register compares POST /api/apps/register with its ceiling on one hot
// license with room for any number of applications, each request a new
// name. Each side starts on a fresh license: the registration counts the
// license's active applications, which grow during the point.
func (r *Runner) register(ctx context.Context) error {
	if _, err := r.query("applications.sql", "ApplicationRegister"); err != nil {
		return err
	}
	for i, c := range r.cfg.RegisterClients {
		n := registerBase + 2*i
		if err := r.seedLicenses(ctx, n, n+1); err != nil {
			return err
		}
		script, err := r.registerScript(n)
		if err != nil {
			return err
		}
		r.script("apps.register", script)
		cpu := takeCPU()
		s, err := RunPgbench(ctx, r.cluster, Pgbench{Name: "apps.register", Script: script, Clients: c,
			Duration: r.cfg.Duration, Warmup: r.cfg.Warmup, DB: r.dbName}, threads())
		if err != nil {
			return err
		}
		r.add(Point{Phase: PhaseRegister, Side: SideCeiling, Licenses: 1, Clients: c, Stats: s, CPU: cpu.since(s.Throughput)})
		err = r.serviceSide(ctx, "apps.register", func() error {
			fx, err := r.fixtures(ctx, n+1, n+1)
			if err != nil {
				return err
			}
			url, header := r.baseURL+"/api/apps/register", fx[0].header
			var seq atomic.Int64
			tr := vegeta.Targeter(func(t *vegeta.Target) error {
				t.Method, t.URL, t.Header = http.MethodPost, url, header
				t.Body = fmt.Appendf(nil, `{"name":"app-%d"}`, seq.Add(1))
				return nil
			})
			if err := r.probe(ctx, tr, http.StatusCreated); err != nil {
				return err
			}
			cpu := takeCPU()
			s, b := r.runTimed(ctx, Load{Name: fmt.Sprintf("apps.register-%d", c), Clients: c, Duration: r.cfg.Duration, Warmup: r.cfg.Warmup,
				Targeter: tr, OK: http.StatusCreated})
			r.add(Point{Phase: PhaseRegister, Side: SideService, Licenses: 1, Clients: c, Stats: s, CPU: cpu.since(s.Throughput), Beyond: b})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
