package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/jsonbody"
	"github.com/licensing-service/licensing/internal/licensing"
)

const ctxActor = "licensing.actor"

// registerAdmin adds the admin API: /api/licenses and below, every route
// behind adminAuth. The contract is api/openapi.yaml.
func registerAdmin(r *gin.Engine, d Deps) {
	if d.Admin == nil {
		return
	}
	g := r.Group("/api/licenses", limitAuth(d.AuthLimiter, "admin"), adminAuth(d.Admin))
	g.POST("", createLicense(d.Admin))
	g.GET("", listLicenses(d.Admin))
	g.GET("/:id", getLicense(d.Admin))
	g.PATCH("/:id", updateLicense(d.Admin))
	g.POST("/:id/suspend", lifecycle(d.Admin.Suspend))
	g.POST("/:id/reactivate", lifecycle(d.Admin.Reactivate))
	g.POST("/:id/revoke", lifecycle(d.Admin.Revoke))
	g.POST("/:id/tokens", issueToken(d.Admin))
	g.GET("/:id/events", listEvents(d.Admin))
}

// adminAuth admits requests carrying `Authorization: Bearer <admin key>` and
// records the key's actor name for the audit trail; anything else is 401
// with a WWW-Authenticate challenge.
func adminAuth(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, ok := bearer(c.GetHeader("Authorization"))
		challenge := `Bearer realm="licensing-admin"`
		if !ok {
			c.Header("WWW-Authenticate", challenge)
			writeError(c, licensing.Errorf(licensing.CodeUnauthorized, "an admin key is required: Authorization: Bearer <admin key>"))
			return
		}
		actor, err := svc.Authenticate(c.Request.Context(), key)
		if err != nil {
			if licensing.ErrorCode(err) == licensing.CodeUnauthorized {
				c.Header("WWW-Authenticate", challenge+`, error="invalid_token"`)
			}
			writeError(c, err)
			return
		}
		c.Set(ctxActor, actor)
		c.Set(ctxLogger, logger(c).With("actor", actor))
		c.Next()
	}
}

// bearer returns the credentials of a Bearer Authorization header.
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

func actor(c *gin.Context) string { return c.GetString(ctxActor) }

// licenseID parses the :id path parameter. A malformed id is 400 (it can
// name no license), an unknown one 404 from the service.
func licenseID(c *gin.Context) (uuid.UUID, bool) { return pathID(c) }

// licenseJSON is a license on the wire (schema License).
type licenseJSON struct {
	ID                  string    `json:"id"`
	TenantID            string    `json:"tenant_id"`
	TenantName          string    `json:"tenant_name"`
	MaxApps             int32     `json:"max_apps"`
	MaxExecutionsPer24h int32     `json:"max_executions_per_24h"`
	ValidFrom           time.Time `json:"valid_from"`
	ValidTo             time.Time `json:"valid_to"`
	Status              string    `json:"status"`
	EffectiveStatus     string    `json:"effective_status"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func toLicenseJSON(l db.License, now time.Time) licenseJSON {
	return licenseJSON{
		ID:                  l.ID.String(),
		TenantID:            l.TenantID,
		TenantName:          l.TenantName,
		MaxApps:             l.MaxApps,
		MaxExecutionsPer24h: l.MaxExecutionsPer24h,
		ValidFrom:           l.ValidFrom.UTC(),
		ValidTo:             l.ValidTo.UTC(),
		Status:              l.Status,
		EffectiveStatus:     licensing.EffectiveStatus(l.Status, l.ValidFrom, l.ValidTo, now),
		CreatedAt:           l.CreatedAt.UTC(),
		UpdatedAt:           l.UpdatedAt.UTC(),
	}
}

func renderLicense(c *gin.Context, status int, l db.License) {
	c.Render(status, jsonBody{toLicenseJSON(l, time.Now())})
}

// jsonBody renders JSON without HTML escaping.
type jsonBody struct{ data any }

func (j jsonBody) Render(w http.ResponseWriter) error {
	j.WriteContentType(w)
	return renderJSON(w, j.data)
}

func (j jsonBody) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
}

// fieldSet collects per-field errors while reading a body.
type fieldSet []licensing.FieldError

// add records msg for field unless field is refused already (one message
// per field: a value of the wrong type may still leave a zero value behind).
func (fs *fieldSet) add(field, msg string) {
	if !slices.ContainsFunc(*fs, func(f licensing.FieldError) bool { return f.Field == field }) {
		*fs = append(*fs, licensing.FieldError{Field: field, Message: msg})
	}
}

// either returns the one given spelling of a field (snake_case or
// camelCase), refusing two spellings that disagree.
func either[T comparable](fs *fieldSet, snake, camel string, a, b *T) *T {
	if a != nil && b != nil && *a != *b {
		fs.add(snake, fmt.Sprintf("%s and %s are both given and disagree", snake, camel))
		return nil
	}
	if a != nil {
		return a
	}
	return b
}

// instant parses an RFC 3339 date-time field.
func instant(fs *fieldSet, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		fs.add(field, "must be an RFC 3339 date-time such as 2027-01-31T00:00:00Z")
		return nil
	}
	return &t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// licenseFieldsBody holds the fields that create and PATCH share, in both
// spellings.
type licenseFieldsBody struct {
	TenantName               *string `json:"tenant_name"`
	TenantNameCamel          *string `json:"tenantName"`
	MaxApps                  *int64  `json:"max_apps"`
	MaxAppsCamel             *int64  `json:"maxApps"`
	MaxExecutionsPer24h      *int64  `json:"max_executions_per_24h"`
	MaxExecutionsPer24hCamel *int64  `json:"maxExecutionsPer24h"`
	ValidFrom                *string `json:"valid_from"`
	ValidFromCamel           *string `json:"validFrom"`
	ValidTo                  *string `json:"valid_to"`
	ValidToCamel             *string `json:"validTo"`
	Reason                   *string `json:"reason"`
}

// licenseFields are the shared fields read from either spelling.
type licenseFields struct {
	tenantName         *string
	maxApps, maxExec   *int64
	validFrom, validTo *time.Time
	reason             string
}

func (b licenseFieldsBody) read(fs *fieldSet) licenseFields {
	return licenseFields{
		tenantName: either(fs, "tenant_name", "tenantName", b.TenantName, b.TenantNameCamel),
		maxApps:    either(fs, "max_apps", "maxApps", b.MaxApps, b.MaxAppsCamel),
		maxExec:    either(fs, "max_executions_per_24h", "maxExecutionsPer24h", b.MaxExecutionsPer24h, b.MaxExecutionsPer24hCamel),
		validFrom:  instant(fs, "valid_from", either(fs, "valid_from", "validFrom", b.ValidFrom, b.ValidFromCamel)),
		validTo:    instant(fs, "valid_to", either(fs, "valid_to", "validTo", b.ValidTo, b.ValidToCamel)),
		reason:     deref(b.Reason),
	}
}

// licenseCreateBody is the rest of a create body (schema LicenseCreate).
type licenseCreateBody struct {
	TenantID      *string `json:"tenant_id"`
	TenantIDCamel *string `json:"tenantId"`
	Status        *string `json:"status"`
}

// bindFields binds the body once and decodes it into each of dsts (no
// embedded structs: the decoder would name their fields by the Go type in
// its errors). Values of the wrong type come back as field errors (camelCase
// names in their snake_case spelling), so the handler can report them
// together with its other findings; any other failure is err.
func bindFields(c *gin.Context, dsts ...any) (fieldSet, error) {
	var raw json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		return nil, err
	}
	var fs fieldSet
	for _, d := range dsts {
		err := jsonbody.Decode(raw, d)
		le := licensing.AsError(err)
		if err != nil && (le == nil || le.Code != licensing.CodeValidation) {
			return nil, err
		}
		if le != nil {
			for _, f := range le.Fields {
				if snake, ok := snakeCase[f.Field]; ok {
					f.Field = snake
				}
				fs = append(fs, f)
			}
		}
	}
	return fs, nil
}

// snakeCase maps the camelCase spellings of body fields to the snake_case
// names that errors use.
var snakeCase = map[string]string{
	"tenantId":            "tenant_id",
	"tenantName":          "tenant_name",
	"maxApps":             "max_apps",
	"maxExecutionsPer24h": "max_executions_per_24h",
	"validFrom":           "valid_from",
	"validTo":             "valid_to",
	"expiresAt":           "expires_at",
	"revokePrevious":      "revoke_previous",
}

func createLicense(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		var b licenseCreateBody
		var lf licenseFieldsBody
		fs, err := bindFields(c, &lf, &b)
		if err != nil {
			writeError(c, err)
			return
		}
		f := lf.read(&fs)
		in := admin.CreateInput{
			TenantID:            deref(either(&fs, "tenant_id", "tenantId", b.TenantID, b.TenantIDCamel)),
			TenantName:          deref(f.tenantName),
			MaxApps:             f.maxApps,
			MaxExecutionsPer24h: f.maxExec,
			ValidFrom:           f.validFrom,
			ValidTo:             f.validTo,
			Status:              deref(b.Status),
			Reason:              f.reason,
			Refused:             fs,
		}
		out, err := svc.Create(c.Request.Context(), actor(c), in)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Header("Location", "/api/licenses/"+out.License.ID.String())
		c.Render(http.StatusCreated, jsonBody{struct {
			licenseJSON
			Token          string    `json:"token"`
			TokenID        string    `json:"token_id"`
			TokenExpiresAt time.Time `json:"token_expires_at"`
		}{toLicenseJSON(out.License, time.Now()), out.Token.Token, out.Token.ID, out.Token.ExpiresAt.UTC()}})
	}
}

func listLicenses(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		f := admin.ListFilter{
			Status:          c.Query("status"),
			EffectiveStatus: c.Query("effective_status"),
			TenantID:        c.Query("tenant_id"),
			Search:          c.Query("search"),
			Cursor:          c.Query("cursor"),
		}
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				writeError(c, licensing.Invalid(licensing.FieldError{Field: "limit", Message: "must be a whole number"}))
				return
			}
			if n == 0 {
				n = -1 // 0 is "default" inside the service; here it is a bad value
			}
			f.Limit = n
		}
		page, err := svc.List(c.Request.Context(), f)
		if err != nil {
			writeError(c, err)
			return
		}
		now := time.Now()
		items := make([]licenseJSON, len(page.Licenses))
		for i, l := range page.Licenses {
			items[i] = toLicenseJSON(l, now)
		}
		var next *string
		if page.NextCursor != "" {
			next = &page.NextCursor
		}
		c.Render(http.StatusOK, jsonBody{gin.H{"items": items, "next_cursor": next}})
	}
}

func getLicense(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := licenseID(c)
		if !ok {
			return
		}
		l, err := svc.Get(c.Request.Context(), id)
		if err != nil {
			writeError(c, err)
			return
		}
		renderLicense(c, http.StatusOK, l)
	}
}

// licensePatchBody is the rest of a PATCH body (schema LicensePatch):
// tenant_id and status are read only to refuse them.
type licensePatchBody struct {
	TenantID      json.RawMessage `json:"tenant_id"`
	TenantIDCamel json.RawMessage `json:"tenantId"`
	Status        json.RawMessage `json:"status"`
}

func updateLicense(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := licenseID(c)
		if !ok {
			return
		}
		var b licensePatchBody
		var lf licenseFieldsBody
		fs, err := bindFields(c, &lf, &b)
		if err != nil {
			writeError(c, err)
			return
		}
		if b.TenantID != nil || b.TenantIDCamel != nil {
			fs.add("tenant_id", "cannot be changed")
		}
		if b.Status != nil {
			fs.add("status", "is changed by POST .../suspend, .../reactivate or .../revoke")
		}
		f := lf.read(&fs)
		in := admin.UpdateInput{
			TenantName:          f.tenantName,
			MaxApps:             f.maxApps,
			MaxExecutionsPer24h: f.maxExec,
			ValidFrom:           f.validFrom,
			ValidTo:             f.validTo,
			Reason:              f.reason,
			Refused:             fs,
		}
		l, err := svc.Update(c.Request.Context(), actor(c), id, in)
		if err != nil {
			writeError(c, err)
			return
		}
		renderLicense(c, http.StatusOK, l)
	}
}

// reasonBody is the optional body of the lifecycle endpoints.
type reasonBody struct {
	Reason *string `json:"reason"`
}

// lifecycle serves suspend, reactivate and revoke.
func lifecycle(change func(ctx context.Context, actor string, id uuid.UUID, reason string) (db.License, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := licenseID(c)
		if !ok {
			return
		}
		var b reasonBody
		if err := bindJSON(c, &b); err != nil {
			writeError(c, err)
			return
		}
		l, err := change(c.Request.Context(), actor(c), id, deref(b.Reason))
		if err != nil {
			writeError(c, err)
			return
		}
		renderLicense(c, http.StatusOK, l)
	}
}

// tokenIssueBody is the optional body of POST /api/licenses/{id}/tokens.
type tokenIssueBody struct {
	RevokePrevious      *bool   `json:"revoke_previous"`
	RevokePreviousCamel *bool   `json:"revokePrevious"`
	ExpiresAt           *string `json:"expires_at"`
	ExpiresAtCamel      *string `json:"expiresAt"`
	Reason              *string `json:"reason"`
}

func issueToken(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := licenseID(c)
		if !ok {
			return
		}
		var b tokenIssueBody
		fs, err := bindFields(c, &b)
		if err != nil {
			writeError(c, err)
			return
		}
		in := admin.IssueTokenInput{
			ExpiresAt: instant(&fs, "expires_at", either(&fs, "expires_at", "expiresAt", b.ExpiresAt, b.ExpiresAtCamel)),
			Reason:    deref(b.Reason),
		}
		if rp := either(&fs, "revoke_previous", "revokePrevious", b.RevokePrevious, b.RevokePreviousCamel); rp != nil {
			in.RevokePrevious = *rp
		}
		in.Refused = fs
		tok, err := svc.IssueToken(c.Request.Context(), actor(c), id, in)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Render(http.StatusCreated, jsonBody{gin.H{
			"token":      tok.Token,
			"token_id":   tok.ID,
			"expires_at": tok.ExpiresAt.UTC(),
		}})
	}
}

// eventJSON is an audit row on the wire (schema AuditEvent).
type eventJSON struct {
	ID        int64           `json:"id"`
	LicenseID string          `json:"license_id"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	Reason    *string         `json:"reason"`
	CreatedAt time.Time       `json:"created_at"`
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func listEvents(svc *admin.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := licenseID(c)
		if !ok {
			return
		}
		var fs fieldSet
		var after int64
		limit := 0
		if v := c.Query("cursor"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				fs.add("cursor", "is not a cursor this service handed out")
			}
			after = n
		}
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				fs.add("limit", fmt.Sprintf("must be a whole number from 1 to %d", admin.MaxPageSize))
			}
			limit = n
		}
		if len(fs) > 0 {
			writeError(c, licensing.Invalid(fs...))
			return
		}
		page, err := svc.Events(c.Request.Context(), id, after, limit)
		if err != nil {
			writeError(c, err)
			return
		}
		items := make([]eventJSON, len(page.Events))
		for i, e := range page.Events {
			items[i] = eventJSON{
				ID:        e.ID,
				LicenseID: e.LicenseID.String(),
				Actor:     e.Actor,
				Action:    e.Action,
				Before:    rawOrNull(e.Before),
				After:     rawOrNull(e.After),
				Reason:    e.Reason,
				CreatedAt: e.CreatedAt.UTC(),
			}
		}
		var next *string
		if page.NextAfter > 0 {
			s := strconv.FormatInt(page.NextAfter, 10)
			next = &s
		}
		c.Render(http.StatusOK, jsonBody{gin.H{"items": items, "next_cursor": next}})
	}
}
