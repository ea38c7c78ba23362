package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
)

// servePprof serves the profiles of this process (the service runs in it)
// on addr, so a slow point can be profiled while it runs:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.Serve(ln, mux); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Error("bench: pprof server", "err", err)
		}
	}()
	log.Info("bench: pprof listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
