package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// registerQuota adds the quota endpoints for license tokens (applications,
// jobs, usage), the challenge's bare-path aliases of the three POSTs, and
// the admin view of a license's usage. The decisions are internal/quota's;
// these handlers bind, call one method and render.
func registerQuota(r *gin.Engine, d Deps) {
	if d.Quota == nil || d.Tokens == nil {
		return
	}
	h := quotaHandlers{svc: d.Quota}
	lic := requireLicense(d.Tokens)
	for _, prefix := range []string{"/api", ""} {
		r.POST(prefix+"/apps/register", lic, h.register)
		r.POST(prefix+"/jobs/start", lic, h.start)
		r.POST(prefix+"/jobs/finish", lic, h.finish)
	}
	g := r.Group("/api", lic)
	g.GET("/apps", h.listApps)
	g.GET("/apps/:id", h.getApp)
	g.DELETE("/apps/:id", h.deleteApp)
	g.GET("/jobs", h.listJobs)
	g.GET("/jobs/:id", h.getJob)
	g.GET("/quota", h.quota)
	if d.Admin != nil {
		r.GET("/api/licenses/:id/usage", limitAuth(d.AuthLimiter, "admin"), adminAuth(d.Admin), h.licenseUsage)
	}
}

type quotaHandlers struct{ svc *quota.Service }

// idempotencyKeyHeader is the header of the three POSTs.
const idempotencyKeyHeader = "Idempotency-Key"

func (h quotaHandlers) register(c *gin.Context) {
	var req quota.RegisterRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	out, err := h.svc.RegisterApp(c.Request.Context(), licenseFrom(c).ID, c.GetHeader(idempotencyKeyHeader), req)
	writeOutcome(c, out, err)
}

func (h quotaHandlers) start(c *gin.Context) {
	var req quota.StartRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	out, err := h.svc.StartJob(c.Request.Context(), licenseFrom(c).ID, c.GetHeader(idempotencyKeyHeader), req)
	writeOutcome(c, out, err)
}

func (h quotaHandlers) finish(c *gin.Context) {
	var req quota.FinishRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	out, err := h.svc.FinishJob(c.Request.Context(), licenseFrom(c).ID, c.GetHeader(idempotencyKeyHeader), req)
	writeOutcome(c, out, err)
}

// writeOutcome renders a quota decision: the RateLimit fields (on
// refusals too), then the problem detail or the stored JSON body, marked
// Idempotent-Replayed when it is a replay.
func writeOutcome(c *gin.Context, out quota.Outcome, err error) {
	if l := out.Limit; l != nil {
		policy := strconv.Quote(l.Policy) + ";q=" + strconv.FormatInt(l.Quota, 10)
		if l.Window > 0 {
			policy += ";w=" + strconv.FormatInt(l.Window, 10)
		}
		state := strconv.Quote(l.Policy) + ";r=" + strconv.FormatInt(l.Remaining, 10)
		if l.Window > 0 {
			state += ";t=" + strconv.FormatInt(l.Reset, 10)
		}
		c.Header("RateLimit-Policy", policy)
		c.Header("RateLimit", state)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	if out.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(out.Status, "application/json; charset=utf-8", out.Body)
}

// pathID parses the :id path parameter; a malformed id is 400 (field id).
func pathID(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		writeError(c, licensing.Invalid(licensing.FieldError{Field: "id", Message: "must be a UUID"}))
		return uuid.Nil, false
	}
	return id, true
}

// pageLimit reads the limit query parameter (1 to quota.MaxPageLimit).
func pageLimit(c *gin.Context) (int, bool) {
	n, fe := parsePageLimit(c)
	if fe != nil {
		writeError(c, licensing.Invalid(*fe))
		return 0, false
	}
	return n, true
}

// parsePageLimit reads the limit query parameter (1 to quota.MaxPageLimit;
// 0 when absent), or says what is wrong with it.
func parsePageLimit(c *gin.Context) (int, *licensing.FieldError) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > quota.MaxPageLimit {
		return 0, &licensing.FieldError{Field: "limit", Message: "must be a whole number from 1 to " + strconv.Itoa(quota.MaxPageLimit)}
	}
	return n, nil
}

func (h quotaHandlers) listApps(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	o := quota.AppListOptions{Cursor: c.Query("cursor"), Limit: limit}
	if v := c.Query("include_deleted"); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			writeError(c, licensing.Invalid(licensing.FieldError{Field: "include_deleted", Message: "must be true or false"}))
			return
		}
		o.IncludeDeleted = b
	}
	list, err := h.svc.ListApps(c.Request.Context(), licenseFrom(c).ID, o)
	render(c, http.StatusOK, list, err)
}

func (h quotaHandlers) getApp(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	app, err := h.svc.GetApp(c.Request.Context(), licenseFrom(c).ID, id)
	render(c, http.StatusOK, app, err)
}

func (h quotaHandlers) deleteApp(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	if err := h.svc.DeleteApp(c.Request.Context(), licenseFrom(c).ID, id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h quotaHandlers) listJobs(c *gin.Context) {
	// A bad limit is reported together with the other bad parameters.
	limit, fe := parsePageLimit(c)
	var refused []licensing.FieldError
	if fe != nil {
		refused = append(refused, *fe)
	}
	list, err := h.svc.ListJobs(c.Request.Context(), licenseFrom(c).ID, quota.JobListOptions{
		Status:        c.Query("status"),
		ApplicationID: c.Query("application_id"),
		Since:         c.Query("since"),
		Cursor:        c.Query("cursor"),
		Limit:         limit,
		Refused:       refused,
	})
	render(c, http.StatusOK, list, err)
}

func (h quotaHandlers) getJob(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	job, err := h.svc.GetJob(c.Request.Context(), licenseFrom(c).ID, id)
	render(c, http.StatusOK, job, err)
}

func (h quotaHandlers) quota(c *gin.Context) {
	u, err := h.svc.Usage(c.Request.Context(), licenseFrom(c).ID)
	render(c, http.StatusOK, u, err)
}

func (h quotaHandlers) licenseUsage(c *gin.Context) {
	id, ok := licenseID(c)
	if !ok {
		return
	}
	u, err := h.svc.Usage(c.Request.Context(), id)
	render(c, http.StatusOK, u, err)
}

// render writes v as JSON, or err as a problem detail.
func render(c *gin.Context, status int, v any, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	c.Render(status, jsonBody{v})
}
