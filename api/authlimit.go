package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/authlimit"
	"github.com/licensing-service/licensing/internal/licensing"
)

// limitAuth goes in front of an authentication middleware (adminAuth): a
// client with too many failed attempts in the current window is refused
// with 429 TOO_MANY_REQUESTS and Retry-After before its credentials are
// even looked at, so that guessing gains nothing, not even a hint that a
// guess was right. A request that carried credentials and was answered 401
// counts as a failure. A nil limiter lets everything through.
func limitAuth(l *authlimit.Limiter, scope string) gin.HandlerFunc {
	return limitAuthWhen(l, scope, func(c *gin.Context) bool { return c.GetHeader("Authorization") != "" })
}

// SigninGuard is the same limit, in the same scope, for the admin console's
// sign-in form: every refused sign-in (401) counts.
func SigninGuard(l *authlimit.Limiter) gin.HandlerFunc {
	return limitAuthWhen(l, "admin", func(*gin.Context) bool { return true })
}

// limitAuthWhen is limitAuth counting the 401s for which sent says
// credentials were offered.
func limitAuthWhen(l *authlimit.Limiter, scope string, sent func(*gin.Context) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if l == nil {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		client := c.ClientIP()
		wait, err := l.BlockedFor(ctx, scope, client)
		if err != nil {
			writeError(c, err)
			return
		}
		if wait > 0 {
			writeError(c, &licensing.Error{
				Code:              licensing.CodeTooManyRequests,
				Message:           "too many failed authentications from this address; retry later",
				RetryAfterSeconds: int64(wait.Seconds()),
			})
			return
		}
		c.Next()
		if c.Writer.Status() == http.StatusUnauthorized && sent(c) {
			if _, err := l.Fail(context.WithoutCancel(ctx), scope, client); err != nil {
				logger(c).WarnContext(ctx, "authlimit: could not count a failed authentication", "err", err)
			}
		}
	}
}
