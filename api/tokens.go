package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// registerTokens serves the public keys of license tokens.
func registerTokens(r *gin.Engine, d Deps) {
	if d.Tokens == nil {
		return
	}
	r.GET("/.well-known/jwks.json", func(c *gin.Context) {
		set, err := d.Tokens.JWKS(c.Request.Context())
		if err != nil {
			writeError(c, err)
			return
		}
		// Clients cache the set briefly and refetch it on an unknown kid.
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, set)
	})
}
