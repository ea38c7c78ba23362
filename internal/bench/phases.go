package bench

import (
	"context"
	"net/http"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// healthz is the HTTP ceiling: the same load against GET /healthz, which
// does no database work, token verification or body parsing. The gap
// between it and jobs.start beyond the database is what those cost.
func (r *Runner) healthz(ctx context.Context) error {
	target := vegeta.Target{Method: http.MethodGet, URL: r.baseURL + "/healthz"}
	for _, c := range r.cfg.Clients {
		s := RunLoad(ctx, Load{
			Name: "healthz", Clients: c, Duration: r.cfg.Duration, Warmup: r.cfg.Warmup,
			Targeter: vegeta.NewStaticTargeter(target),
		})
		r.add(Point{Phase: PhaseHealthz, Side: SideService, Clients: c, Stats: s})
	}
	return ctx.Err()
}
