// Command bench measures the licensing service against its database's own
// ceiling on this machine, in one run (`make bench`, or `make bench-full`).
//
// It starts a private PostgreSQL with durable default settings under
// .data/bench/postgres, a fresh migrated database, and the service
// in-process behind a real HTTP server on a free port of 127.0.0.1. It
// prints Markdown tables and writes JSON, Markdown and an SVG chart to
// .data/bench/. See the README's Benchmarks section.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/licensing-service/licensing/internal/bench"
	"github.com/licensing-service/licensing/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	mode := fs.String("mode", envOr("BENCH_MODE", "quick"), "quick (a few minutes) or full (BENCH_MODE)")
	dataDir := fs.String("data", "", "directory for the private cluster and the results (default .data/bench)")
	chart := fs.String("chart", "", "also write the SVG chart here (the README's is cmd/bench/bench.svg)")
	phases := fs.String("phases", "", "comma-separated phases to run (default all): healthz,jobs.start,window,apps.register")
	duration := fs.Duration("duration", 0, "override the measured time per point (and a sixth of it for warm-up)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address during the run (e.g. 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg bench.Config
	switch *mode {
	case "quick":
		cfg = bench.Quick()
	case "full":
		cfg = bench.Full()
	default:
		return fmt.Errorf("-mode %q: want quick or full", *mode)
	}
	// The service runs with the configuration licensingd would read.
	svc, err := config.FromEnv(nil)
	if err != nil {
		return err
	}
	cfg.Service = svc
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *duration > 0 {
		cfg.Duration, cfg.WindowDuration, cfg.Warmup = *duration, *duration, *duration/6
	}
	if *phases != "" {
		cfg.Phases = strings.Split(*phases, ",")
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, cfg.Log); err != nil {
			return err
		}
	}

	rep, runErr := bench.Run(ctx, cfg)
	if len(rep.Points) == 0 && runErr != nil {
		return runErr
	}
	fmt.Print(bench.Markdown(rep))
	svgPath, err := bench.Write(rep, cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.Log.Info("bench: results written", "dir", cfg.DataDir)
	if *chart != "" && svgPath != "" {
		b, err := os.ReadFile(svgPath)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*chart, b, 0o644); err != nil {
			return err
		}
	}
	return runErr
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
