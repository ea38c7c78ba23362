// Package api is the HTTP layer: the gin router, middleware, thin handlers
// (bind and validate, call one service method, render) and the OpenAPI
// document that is the contract of every endpoint.
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/licensing-service/licensing/api/console"
	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/authlimit"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
	"github.com/licensing-service/licensing/internal/tokens"
)

// OpenAPI is the contract of the API, served at GET /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Deps are what the handlers need. cmd/licensingd builds them.
type Deps struct {
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	// Ready reports whether the service can serve (database reachable,
	// migrations current); nil means always ready.
	Ready func(ctx context.Context) error
	// Metrics is the app's own Prometheus registry (never the global one,
	// so parallel tests do not collide). The router adds its request
	// figures and serves it at GET /metrics; nil makes a fresh one.
	Metrics *prometheus.Registry
	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the client address (c.ClientIP); empty trusts none.
	TrustedProxies []string
	// Console is the admin console served at /console; nil serves none.
	Console *console.Console
	// Tokens issues and verifies license tokens.
	Tokens *tokens.Service
	// Admin is license administration (the /api/licenses routes); nil
	// leaves them out.
	Admin *admin.Service
	// Quota decides registrations and job starts (api/quota.go); nil
	// serves none of the quota routes.
	Quota *quota.Service
	// Limits bound each request's time and the requests running at once.
	Limits Limits
	// AuthLimiter slows down clients that fail admin authentication
	// repeatedly; nil does not limit.
	AuthLimiter *authlimit.Limiter
}

const (
	ctxLogger    = "licensing.logger"
	ctxRequestID = "licensing.request_id"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// NewRouter builds the router with every route of the service.
func NewRouter(d Deps) *gin.Engine {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// gin trusts every X-Forwarded-For by default, which would let any
	// client pick the address that logs and per-client limits see.
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		d.Logger.Error("trusted proxies: ignored, trusting none", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	// The metrics sit inside the request log and outside the recovery, so
	// a panic is counted and logged as the 500 it becomes.
	r.Use(requestContext(d.Logger), newHTTPMetrics(d.Metrics).observe(), recoverProblem(),
		deadline(d.Limits.RequestTimeout), admission(newAdmitter(d.Limits)))
	r.NoRoute(func(c *gin.Context) {
		writeError(c, licensing.Errorf(licensing.CodeNotFound, "no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, licensing.Errorf(licensing.CodeMethodNotAllowed, "method %s is not allowed here", c.Request.Method))
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", readyz(d))
	r.GET("/metrics", metricsHandler(d.Metrics))
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", OpenAPI) })
	registerConsole(r, d)
	registerTokens(r, d)
	registerAdmin(r, d)
	registerQuota(r, d)
	return r
}

func readyz(d Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d.Ready != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
			defer cancel()
			if err := d.Ready(ctx); err != nil {
				logger(c).WarnContext(ctx, "readyz: not ready", "err", err)
				writeError(c, &licensing.Error{Code: licensing.CodeUnavailable, Message: "not ready: " + licensing.AsError(err).Message, RetryAfterSeconds: 1, Err: err})
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// requestContext gives every request an id (X-Request-Id, taken from the
// client when sane) and a logger carrying it, and logs one line per request.
// The line never holds headers, the query string or the body: they may carry
// bearer tokens and license data.
func requestContext(base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := c.GetHeader("X-Request-Id")
		if !saneRequestID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Header("X-Request-Id", id)
		l := base.With("request_id", id)
		c.Set(ctxLogger, l)
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		route := c.FullPath()
		if route == "" {
			route = unmatchedRoute
		}
		l.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client", c.ClientIP()),
		)
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func requestID(c *gin.Context) string {
	return c.GetString(ctxRequestID)
}

// recoverProblem turns a panic into a logged 500 problem detail.
func recoverProblem() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		logger(c).ErrorContext(c.Request.Context(), "panic in handler",
			"panic", rec, "route", c.FullPath(), "stack", string(debug.Stack()))
		writeError(c, licensing.Internal(nil))
	})
}
