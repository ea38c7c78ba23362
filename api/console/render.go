package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"
	"github.com/gorilla/securecookie"

	"github.com/licensing-service/licensing/internal/licensing"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the admin console.
type Console struct {
	opts          Options
	svc           Service
	log           *slog.Logger
	cookies       *securecookie.SecureCookie
	protectPlain  func(http.Handler) http.Handler
	protectSecure func(http.Handler) http.Handler
	pages         map[string]*template.Template
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"signin", "licenses", "license", "form", "token", "error"}

// New builds the console from opts; opts.Service is required.
func New(opts Options) (*Console, error) {
	if opts.Service == nil {
		return nil, fmt.Errorf("console: no service")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	k, err := deriveKeys(opts.Secret)
	if err != nil {
		return nil, fmt.Errorf("console: keys: %w", err)
	}
	cs := &Console{opts: opts, svc: opts.Service, log: opts.Logger}
	cs.cookies = securecookie.New(k.hash, k.block).
		MaxAge(int(opts.SessionTTL.Seconds())).
		SetSerializer(securecookie.JSONEncoder{})
	cs.protectPlain = cs.newProtect(k, false)
	cs.protectSecure = cs.newProtect(k, true)
	if cs.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return cs, nil
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page template gets.
type view struct {
	Title string
	// Admin is nil on the sign-in page.
	Admin *Admin
	// CSRF is the hidden form field carrying the CSRF token.
	CSRF template.HTML
	// Nav marks the current section in the header.
	Nav string
	// Flash is a confirmation shown once at the top of the page.
	Flash string
	// Error is a message shown at the top of the page.
	Error string
	// Data is the page's own data.
	Data any
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Message string
}

// render writes page with v as the response, with the request's CSRF field
// and admin filled in.
func (cs *Console) render(c *gin.Context, status int, page string, v *view) {
	if a, ok := c.Get(ctxAdmin); ok {
		admin := a.(Admin)
		v.Admin = &admin
	}
	cs.writePage(c.Writer, c.Request, status, page, v)
}

// writePage executes the template into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func (cs *Console) writePage(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.CSRF = csrf.TemplateField(r)
	var buf bytes.Buffer
	if err := cs.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		cs.log.ErrorContext(r.Context(), "console: render failed", "page", page, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>The page could not be shown.</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows err on the error page with its HTTP status. Internal
// errors are logged and shown as a generic message.
func (cs *Console) renderError(c *gin.Context, err error) {
	status := cs.opts.statusOf(err)
	e := licensing.AsError(err)
	msg := e.Message
	if status >= 500 {
		cs.log.ErrorContext(c.Request.Context(), "console: request failed", "path", c.Request.URL.Path, "err", err)
		msg = "Something went wrong on our side. Try again in a moment."
	}
	cs.render(c, status, "error", &view{Title: http.StatusText(status), Data: errorPage{Status: status, Message: msg}})
}

// securityHeaders keeps the console's pages out of frames and caches and
// lets them load nothing but the console's own files.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(c.Request.URL.Path, staticPath) {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// staticFiles serves the console's CSS and JavaScript from the binary.
func staticFiles() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	files := http.StripPrefix(staticPath, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// The template functions.
var funcs = template.FuncMap{
	"when":      when,
	"whenInput": whenInput,
	"ago":       ago,
	"lower":     strings.ToLower,
	"chart":     UsageChart,
	"percent":   percent,
	"changes":   changes,
	"field":     fieldOf,
}

// inputField is what the "input" template draws: a labelled input with its
// value and its message.
type inputField struct {
	Name, Label, Type, Hint, Value, Error string
}

// fieldOf describes the input for form field name.
func fieldOf(f *form, name, label, typ, hint string) inputField {
	return inputField{Name: name, Label: label, Type: typ, Hint: hint, Value: f.Values[name], Error: f.Errors[name]}
}

// when formats t for reading: UTC, to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// whenInput formats t for a datetime-local input, in UTC.
func whenInput(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(inputTimeLayout)
}

// ago says how far t is from now, roughly: "in 3h 20m", "5m ago".
func ago(t time.Time) string {
	d := time.Until(t)
	suffix, prefix := "", "in "
	if d < 0 {
		d, suffix, prefix = -d, " ago", ""
	}
	d = d.Round(time.Minute)
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return prefix + s + suffix
}

// percent is used/max as a whole percentage for a meter, capped at 100.
func percent(used, max int) int {
	if max <= 0 {
		if used > 0 {
			return 100
		}
		return 0
	}
	p := used * 100 / max
	if p > 100 {
		p = 100
	}
	return p
}

// change is one field of an audit event with its value before and after.
type change struct {
	Field   string
	Before  string
	After   string
	Changed bool
}

// changes lists the fields of an audit event in a stable order, marking the
// ones that changed. Fields equal before and after are left out; an event
// with no before (CREATE, most TOKEN_ISSUEs) lists every field it recorded.
func changes(e Event) []change {
	names := map[string]bool{}
	for k := range e.Before {
		names[k] = true
	}
	for k := range e.After {
		names[k] = true
	}
	var out []change
	for k := range names {
		b, hasB := e.Before[k]
		a, hasA := e.After[k]
		ch := change{Field: k, Before: showValue(b, hasB), After: showValue(a, hasA)}
		ch.Changed = e.Before != nil && (hasA != hasB || !reflect.DeepEqual(a, b))
		if !ch.Changed && e.Before != nil {
			continue
		}
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// showValue renders one JSON value of an audit event.
func showValue(v any, present bool) string {
	if !present {
		return ""
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return when(t)
		}
		return x
	case float64:
		return fmt.Sprintf("%g", x)
	default:
		return fmt.Sprint(x)
	}
}
