package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/licensing"
)

const (
	basePath     = "/console"
	signinPath   = basePath + "/signin"
	licensesPath = basePath + "/licenses"
	staticPath   = basePath + "/static/"
	pageSize     = 25
	// inputTimeLayout is what a datetime-local input sends.
	inputTimeLayout = "2006-01-02T15:04"
)

// Register adds the console's routes under /console to r.
func (cs *Console) Register(r gin.IRouter) {
	g := r.Group(basePath, securityHeaders)
	g.GET("/static/*file", gin.WrapH(staticFiles()))

	forms := g.Group("", cs.csrfProtect)
	forms.GET("", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, licensesPath) })
	forms.GET("/signin", cs.signinPage)
	if cs.opts.SigninGuard != nil {
		forms.POST("/signin", cs.opts.SigninGuard, cs.signin)
	} else {
		forms.POST("/signin", cs.signin)
	}
	forms.POST("/signout", cs.signout)

	admin := forms.Group("", cs.requireAdmin)
	admin.GET("/licenses", cs.list)
	admin.GET("/licenses/new", cs.newPage)
	admin.POST("/licenses", cs.create)
	admin.GET("/licenses/:id", cs.detail)
	admin.GET("/licenses/:id/edit", cs.editPage)
	admin.POST("/licenses/:id/edit", cs.update)
	admin.POST("/licenses/:id/suspend", cs.lifecycle("suspend"))
	admin.POST("/licenses/:id/reactivate", cs.lifecycle("reactivate"))
	admin.POST("/licenses/:id/revoke", cs.lifecycle("revoke"))
	admin.POST("/licenses/:id/tokens", cs.issueToken)
}

// form is a submitted form: its values, to fill the fields again, and the
// messages to show next to them.
type form struct {
	Values map[string]string
	Errors map[string]string
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// fail records msg next to field (the first message per field wins), as a
// sentence: the service's messages start in lower case ("must be ...").
func (f *form) fail(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = sentence(msg)
	}
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// ok reports whether no field failed.
func (f *form) ok() bool { return len(f.Errors) == 0 }

// take reads the named fields of the posted form, trimmed.
func (f *form) take(c *gin.Context, names ...string) {
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(c.PostForm(n))
	}
}

// number parses field as a whole number; empty gives nil unless required.
func (f *form) number(field string, required bool) *int {
	v := f.Values[field]
	if v == "" {
		if required {
			f.fail(field, "Enter a whole number.")
		}
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.fail(field, "Enter a whole number, such as 10.")
		return nil
	}
	return &n
}

// instant parses field as a UTC date and time; empty gives nil unless
// required.
func (f *form) instant(field string, required bool) *time.Time {
	v := f.Values[field]
	if v == "" {
		if required {
			f.fail(field, "Enter a date and time.")
		}
		return nil
	}
	for _, layout := range []string{inputTimeLayout, "2006-01-02T15:04:05", time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			t = t.UTC()
			return &t
		}
	}
	f.fail(field, "Enter a date and time as YYYY-MM-DD HH:MM (UTC).")
	return nil
}

// absorb puts the field errors of a service error next to the form's
// fields; it returns the message for the top of the page, if any.
func (f *form) absorb(err error) string {
	e := licensing.AsError(err)
	switch e.Code {
	case licensing.CodeTenantTaken:
		f.fail("tenant_id", e.Message)
		return ""
	case licensing.CodeValidation:
		var rest []string
		for _, fe := range e.Fields {
			name := fieldName(fe.Field)
			if _, known := f.Values[name]; known {
				f.fail(name, fe.Message)
			} else {
				rest = append(rest, fe.Field+": "+fe.Message)
			}
		}
		if len(rest) > 0 || len(e.Fields) == 0 {
			msg := e.Message
			if len(rest) > 0 {
				msg += ": " + strings.Join(rest, "; ")
			}
			return sentence(msg)
		}
		return ""
	}
	return ""
}

// fieldName maps the API's field names (snake or camel case, perhaps
// nested as "body.max_apps") to the form's.
func fieldName(f string) string {
	if i := strings.LastIndexAny(f, "./"); i >= 0 {
		f = f[i+1:]
	}
	switch f {
	case "tenantId":
		return "tenant_id"
	case "tenantName":
		return "tenant_name"
	case "maxApps":
		return "max_apps"
	case "maxExecutionsPer24h":
		return "max_executions_per_24h"
	case "validFrom":
		return "valid_from"
	case "validTo":
		return "valid_to"
	}
	return f
}

// signinPage shows the sign-in form, or skips it for a signed-in admin.
func (cs *Console) signinPage(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if _, ok, _ := cs.currentAdmin(c); ok {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	f := newForm()
	f.Values["next"] = next
	v := &view{Title: "Sign in", Data: f}
	if c.Query("signed_out") != "" {
		v.Flash = flash("signed_out")
	}
	cs.render(c, http.StatusOK, "signin", v)
}

// signin checks the admin key with the service and starts a session.
func (cs *Console) signin(c *gin.Context) {
	f := newForm()
	f.take(c, "key", "next")
	f.Values["next"] = safeNext(f.Values["next"])
	key := f.Values["key"]
	delete(f.Values, "key") // never echo the key back into the page
	if key == "" {
		f.fail("key", "Enter your admin key.")
		cs.render(c, http.StatusBadRequest, "signin", &view{Title: "Sign in", Data: f})
		return
	}
	a, err := cs.svc.Authenticate(c.Request.Context(), key)
	if err != nil {
		status := cs.opts.statusOf(err)
		if status >= 500 {
			cs.renderError(c, err)
			return
		}
		cs.log.WarnContext(c.Request.Context(), "console: sign-in refused", "client", c.ClientIP())
		f.fail("key", "This admin key is not valid.")
		cs.render(c, http.StatusUnauthorized, "signin", &view{Title: "Sign in", Data: f})
		return
	}
	if err := cs.setSession(c, key); err != nil {
		cs.renderError(c, licensing.Internal(err))
		return
	}
	cs.log.InfoContext(c.Request.Context(), "console: signed in", "admin", a.Name)
	c.Redirect(http.StatusSeeOther, f.Values["next"])
}

// signout ends the session.
func (cs *Console) signout(c *gin.Context) {
	cs.clearSession(c)
	c.Redirect(http.StatusSeeOther, signinPath+"?signed_out=1")
}

// The statuses the filters offer.
var (
	statuses          = []string{"ACTIVE", "SUSPENDED", "REVOKED"}
	effectiveStatuses = []string{"ACTIVE", "SUSPENDED", "REVOKED", "EXPIRED", "NOT_YET_VALID"}
)

// listPage is the data of the licenses list.
type listPage struct {
	Filter            ListFilter
	Page              Page
	Statuses          []string
	EffectiveStatuses []string
	// NextURL and FirstURL keep the filters across pages.
	NextURL  string
	FirstURL string
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// list shows the licenses, filtered and paginated.
func (cs *Console) list(c *gin.Context) {
	f := ListFilter{
		Tenant:          strings.TrimSpace(c.Query("tenant")),
		Status:          strings.ToUpper(c.Query("status")),
		EffectiveStatus: strings.ToUpper(c.Query("effective_status")),
		Cursor:          c.Query("cursor"),
		Limit:           pageSize,
	}
	data := &listPage{Filter: f, Statuses: statuses, EffectiveStatuses: effectiveStatuses}
	v := &view{Title: "Licenses", Nav: "licenses", Data: data, Flash: flash(c.Query("done"))}
	switch {
	case f.Status != "" && !oneOf(f.Status, statuses):
		v.Error = "Unknown status " + strconv.Quote(f.Status) + "."
	case f.EffectiveStatus != "" && !oneOf(f.EffectiveStatus, effectiveStatuses):
		v.Error = "Unknown effective status " + strconv.Quote(f.EffectiveStatus) + "."
	case len(f.Tenant) > 255:
		v.Error = "The search is too long."
	}
	if v.Error != "" {
		cs.render(c, http.StatusBadRequest, "licenses", v)
		return
	}
	q := url.Values{}
	for k, val := range map[string]string{"tenant": f.Tenant, "status": f.Status, "effective_status": f.EffectiveStatus} {
		if val != "" {
			q.Set(k, val)
		}
	}
	data.FirstURL = licensesPath
	if len(q) > 0 {
		data.FirstURL += "?" + q.Encode()
	}
	p, err := cs.svc.List(c.Request.Context(), f)
	if err != nil {
		if st := cs.opts.statusOf(err); st < 500 {
			v.Error = problemText(err)
			cs.render(c, st, "licenses", v)
			return
		}
		cs.renderError(c, err)
		return
	}
	data.Page = p
	if p.NextCursor != "" {
		q.Set("cursor", p.NextCursor)
		data.NextURL = licensesPath + "?" + q.Encode()
	}
	cs.render(c, http.StatusOK, "licenses", v)
}

// problemText is a refusal's message with its field errors, for the top of
// a page that has no form fields to put them next to.
func problemText(err error) string {
	e := licensing.AsError(err)
	if len(e.Fields) == 0 {
		return sentence(e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, fe := range e.Fields {
		parts[i] = strings.ReplaceAll(fe.Field, "_", " ") + " " + strings.TrimSuffix(fe.Message, ".")
	}
	return sentence(strings.Join(parts, "; "))
}

// flash is the confirmation for a finished action (the done parameter of
// the redirect after a POST).
func flash(done string) string {
	return map[string]string{
		"updated":     "Limits and dates saved.",
		"suspended":   "License suspended. Its tokens are refused until it is reactivated.",
		"reactivated": "License reactivated.",
		"revoked":     "License revoked. This cannot be undone.",
		"signed_out":  "You are signed out.",
	}[done]
}

// formPage is the data of the create and edit forms.
type formPage struct {
	Form *form
	// License is the license being edited; nil when creating.
	License *License
	Error   string
}

// newPage shows an empty create form with sensible defaults.
func (cs *Console) newPage(c *gin.Context) {
	f := newForm()
	now := time.Now().UTC().Truncate(time.Minute)
	f.Values["valid_from"] = whenInput(now)
	f.Values["valid_to"] = whenInput(now.AddDate(1, 0, 0))
	f.Values["max_apps"] = "5"
	f.Values["max_executions_per_24h"] = "1000"
	cs.render(c, http.StatusOK, "form", &view{Title: "New license", Nav: "new", Data: &formPage{Form: f}})
}

// create creates a license and shows its first token once.
func (cs *Console) create(c *gin.Context) {
	f := newForm()
	f.take(c, "tenant_id", "tenant_name", "max_apps", "max_executions_per_24h", "valid_from", "valid_to")
	in := LicenseInput{
		TenantID:            f.Values["tenant_id"],
		TenantName:          f.Values["tenant_name"],
		MaxApps:             f.number("max_apps", true),
		MaxExecutionsPer24h: f.number("max_executions_per_24h", true),
		ValidFrom:           f.instant("valid_from", true),
		ValidTo:             f.instant("valid_to", true),
	}
	if in.TenantID == "" {
		f.fail("tenant_id", "Enter the tenant id.")
	}
	if in.TenantName == "" {
		f.fail("tenant_name", "Enter the tenant's name.")
	}
	page := &formPage{Form: f}
	v := &view{Title: "New license", Nav: "new", Data: page}
	if !f.ok() {
		cs.render(c, http.StatusBadRequest, "form", v)
		return
	}
	l, tok, err := cs.svc.Create(c.Request.Context(), adminOf(c), in)
	if err != nil {
		if st := cs.opts.statusOf(err); st < 500 {
			page.Error = f.absorb(err)
			if page.Error == "" && f.ok() {
				page.Error = sentence(licensing.AsError(err).Message)
			}
			cs.render(c, st, "form", v)
			return
		}
		cs.renderError(c, err)
		return
	}
	cs.render(c, http.StatusCreated, "token", &view{Title: "License created", Data: &tokenPage{License: l, Token: tok, Created: true}})
}

// tokenPage shows a new token once.
type tokenPage struct {
	License License
	Token   Token
	// Created is true right after the license was created.
	Created        bool
	RevokePrevious bool
}

// detailPage is the data of a license's page.
type detailPage struct {
	License License
	Usage   Usage
	Events  []Event
	// Errors holds messages next to the action forms' fields.
	Errors map[string]string
}

// detail shows one license, its usage and its audit trail.
func (cs *Console) detail(c *gin.Context) {
	cs.showDetail(c, http.StatusOK, &view{Flash: flash(c.Query("done"))}, nil)
}

// showDetail renders the license page with v's messages.
func (cs *Console) showDetail(c *gin.Context, status int, v *view, fieldErrors map[string]string) {
	ctx := c.Request.Context()
	id := c.Param("id")
	l, err := cs.svc.Get(ctx, id)
	if err != nil {
		cs.renderError(c, err)
		return
	}
	u, err := cs.svc.Usage(ctx, id)
	if err != nil {
		cs.renderError(c, err)
		return
	}
	events, err := cs.svc.Events(ctx, id)
	if err != nil {
		cs.renderError(c, err)
		return
	}
	// Newest first: the latest change is what an admin looks for.
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	v.Title = l.TenantName
	v.Nav = "licenses"
	v.Data = &detailPage{License: l, Usage: u, Events: events, Errors: fieldErrors}
	cs.render(c, status, "license", v)
}

// editPage shows the upgrade/downgrade form filled with the license.
func (cs *Console) editPage(c *gin.Context) {
	l, err := cs.svc.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		cs.renderError(c, err)
		return
	}
	f := newForm()
	fillLimits(f, l)
	cs.render(c, http.StatusOK, "form", &view{Title: "Change " + l.TenantName, Nav: "licenses", Data: &formPage{Form: f, License: &l}})
}

func fillLimits(f *form, l License) {
	f.Values["max_apps"] = strconv.Itoa(l.MaxApps)
	f.Values["max_executions_per_24h"] = strconv.Itoa(l.MaxExecutionsPer24h)
	f.Values["valid_from"] = whenInput(l.ValidFrom)
	f.Values["valid_to"] = whenInput(l.ValidTo)
}

// update upgrades or downgrades the limits and dates; only the fields that
// differ from the license go to the service, so the audit trail records
// exactly what the admin changed.
func (cs *Console) update(c *gin.Context) {
	ctx := c.Request.Context()
	l, err := cs.svc.Get(ctx, c.Param("id"))
	if err != nil {
		cs.renderError(c, err)
		return
	}
	current := newForm()
	fillLimits(current, l)
	f := newForm()
	f.take(c, "max_apps", "max_executions_per_24h", "valid_from", "valid_to", "reason")
	var in LicenseInput
	changed := func(name string) bool { return f.Values[name] != current.Values[name] }
	if changed("max_apps") {
		in.MaxApps = f.number("max_apps", true)
	}
	if changed("max_executions_per_24h") {
		in.MaxExecutionsPer24h = f.number("max_executions_per_24h", true)
	}
	if changed("valid_from") {
		in.ValidFrom = f.instant("valid_from", true)
	}
	if changed("valid_to") {
		in.ValidTo = f.instant("valid_to", true)
	}
	page := &formPage{Form: f, License: &l}
	v := &view{Title: "Change " + l.TenantName, Nav: "licenses", Data: page}
	if f.ok() && in == (LicenseInput{}) {
		page.Error = "Nothing changed: edit a limit or a date first."
	}
	if !f.ok() || page.Error != "" {
		cs.render(c, http.StatusBadRequest, "form", v)
		return
	}
	if _, err := cs.svc.Update(ctx, adminOf(c), l.ID, in, f.Values["reason"]); err != nil {
		if st := cs.opts.statusOf(err); st < 500 {
			page.Error = f.absorb(err)
			if page.Error == "" && f.ok() {
				page.Error = sentence(licensing.AsError(err).Message)
			}
			cs.render(c, st, "form", v)
			return
		}
		cs.renderError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, licensesPath+"/"+url.PathEscape(l.ID)+"?done=updated")
}

// lifecycle returns the handler of a suspend, reactivate or revoke form.
func (cs *Console) lifecycle(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id := c.Param("id")
		reason := strings.TrimSpace(c.PostForm("reason"))
		if action == "revoke" && c.PostForm("confirm") != "yes" {
			cs.showDetail(c, http.StatusBadRequest, &view{Error: "The license was not revoked."},
				map[string]string{"confirm": "Tick the box to confirm: revoking cannot be undone."})
			return
		}
		var err error
		by := adminOf(c)
		switch action {
		case "suspend":
			_, err = cs.svc.Suspend(ctx, by, id, reason)
		case "reactivate":
			_, err = cs.svc.Reactivate(ctx, by, id, reason)
		case "revoke":
			_, err = cs.svc.Revoke(ctx, by, id, reason)
		}
		if err != nil {
			st := cs.opts.statusOf(err)
			if st >= 500 || st == http.StatusNotFound {
				cs.renderError(c, err)
				return
			}
			e := licensing.AsError(err)
			var fields map[string]string
			if len(e.Fields) > 0 {
				fields = map[string]string{}
				for _, fe := range e.Fields {
					fields[action+"_"+fieldName(fe.Field)] = sentence(fe.Message)
				}
			}
			cs.showDetail(c, st, &view{Error: sentence(e.Message)}, fields)
			return
		}
		done := map[string]string{"suspend": "suspended", "reactivate": "reactivated", "revoke": "revoked"}[action]
		c.Redirect(http.StatusSeeOther, licensesPath+"/"+url.PathEscape(id)+"?done="+done)
	}
}

// issueToken issues a new token for the license and shows it once.
func (cs *Console) issueToken(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	revokePrevious := c.PostForm("revoke_previous") == "yes"
	tok, err := cs.svc.IssueToken(ctx, adminOf(c), id, revokePrevious)
	if err != nil {
		st := cs.opts.statusOf(err)
		if st >= 500 || st == http.StatusNotFound {
			cs.renderError(c, err)
			return
		}
		cs.showDetail(c, st, &view{Error: problemText(err)}, nil)
		return
	}
	l, err := cs.svc.Get(ctx, id)
	if err != nil {
		cs.renderError(c, err)
		return
	}
	cs.render(c, http.StatusCreated, "token", &view{Title: "New token", Nav: "licenses",
		Data: &tokenPage{License: l, Token: tok, RevokePrevious: revokePrevious}})
}
