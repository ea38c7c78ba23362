package api

import "github.com/gin-gonic/gin"

// registerConsole serves the admin console under /console when the app
// built one (see internal/app).
func registerConsole(r *gin.Engine, d Deps) {
	if d.Console != nil {
		d.Console.Register(r)
	}
}
