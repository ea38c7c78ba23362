package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/tokens"
)

const (
	ctxLicense       = "licensing.license"
	ctxLicenseClaims = "licensing.license_claims"
)

// requireLicense admits requests that carry a valid license token in
// `Authorization: Bearer <token>` for a license that may operate now, and
// stores the license (read from the database by tokens.Service.Verify) for
// licenseFrom. It answers 401 INVALID_TOKEN with a WWW-Authenticate header
// for a missing, malformed, forged, expired or superseded token, and 403
// LICENSE_SUSPENDED, LICENSE_REVOKED, LICENSE_EXPIRED or
// LICENSE_NOT_YET_VALID for a license that may not operate.
func requireLicense(t *tokens.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := bearerToken(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="licensing"`)
			writeError(c, licensing.Errorf(licensing.CodeInvalidToken, "a license token is required: Authorization: Bearer <token>"))
			return
		}
		lic, claims, err := t.Verify(c.Request.Context(), raw)
		if err != nil {
			if licensing.ErrorCode(err) == licensing.CodeInvalidToken {
				// RFC 6750 §3: the error code, never the token or the cause.
				c.Header("WWW-Authenticate", `Bearer realm="licensing", error="invalid_token"`)
			}
			writeError(c, err)
			return
		}
		c.Set(ctxLicense, lic)
		c.Set(ctxLicenseClaims, claims)
		c.Next()
	}
}

// licenseFrom returns the license requireLicense admitted the request for.
// It panics (a 500) on a route without requireLicense: a wiring bug.
func licenseFrom(c *gin.Context) db.License {
	return c.MustGet(ctxLicense).(db.License)
}

// bearerToken extracts the token of an RFC 6750 Authorization header; the
// scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
