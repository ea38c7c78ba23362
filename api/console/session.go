package console

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"

	"github.com/licensing-service/licensing/internal/licensing"
)

const (
	sessionCookie = "console_session"
	csrfCookie    = "console_csrf"
	csrfField     = "csrf_token"
	cookiePath    = "/console"
	ctxAdmin      = "console.admin"
)

// session is what the session cookie holds, encrypted and authenticated.
type session struct {
	Key string `json:"k"`
}

// keys are the secrets derived from Options.Secret, one per purpose.
type keys struct {
	hash, block, csrf []byte
}

// deriveKeys expands secret (or a fresh random one) into independent keys
// with HKDF, so one configured secret serves every purpose.
func deriveKeys(secret []byte) (keys, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return keys{}, err
		}
	}
	derive := func(info string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, []byte("licensing-console"), info, n)
	}
	var k keys
	var err error
	if k.hash, err = derive("session-hmac", 32); err != nil {
		return k, err
	}
	if k.block, err = derive("session-aes", 32); err != nil {
		return k, err
	}
	if k.csrf, err = derive("csrf", 32); err != nil {
		return k, err
	}
	return k, nil
}

// secure reports whether r came over HTTPS: directly, or through a proxy
// that ended TLS and says so in X-Forwarded-Proto. Cookies set in reply are
// then Secure, and the CSRF check expects an https Origin. (A client that
// fakes the header only makes its own cookies stricter; browsers cannot set
// it on a cross-site request.)
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setSession stores the admin key in the session cookie.
func (cs *Console) setSession(c *gin.Context, key string) error {
	v, err := cs.cookies.Encode(sessionCookie, session{Key: key})
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     sessionCookie,
		Value:    v,
		Path:     cookiePath,
		MaxAge:   int(cs.opts.SessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   secure(c.Request),
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// clearSession removes the session cookie.
func (cs *Console) clearSession(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     sessionCookie,
		Value:    "",
		Path:     cookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secure(c.Request),
		SameSite: http.SameSiteStrictMode,
	})
}

// currentAdmin returns the admin of the request's session. ok is false when
// there is no valid session (no cookie, a cookie that does not decode or has
// expired, or a key the service no longer accepts); err is set when the
// service could not answer.
func (cs *Console) currentAdmin(c *gin.Context) (a Admin, ok bool, err error) {
	ck, cerr := c.Request.Cookie(sessionCookie)
	if cerr != nil || ck.Value == "" {
		return Admin{}, false, nil
	}
	var s session
	if err := cs.cookies.Decode(sessionCookie, ck.Value, &s); err != nil || s.Key == "" {
		return Admin{}, false, nil
	}
	a, err = cs.svc.Authenticate(c.Request.Context(), s.Key)
	if err != nil {
		switch licensing.ErrorCode(err) {
		case licensing.CodeUnauthorized, licensing.CodeInvalidToken, licensing.CodeForbidden:
			return Admin{}, false, nil
		}
		return Admin{}, false, err
	}
	return a, true, nil
}

// requireAdmin lets signed-in admins through and sends everyone else to the
// sign-in page, remembering where they were going.
func (cs *Console) requireAdmin(c *gin.Context) {
	a, ok, err := cs.currentAdmin(c)
	if err != nil {
		cs.renderError(c, err)
		c.Abort()
		return
	}
	if !ok {
		cs.clearSession(c)
		target := signinPath
		if c.Request.Method == http.MethodGet {
			target += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		c.Redirect(http.StatusSeeOther, target)
		c.Abort()
		return
	}
	c.Set(ctxAdmin, a)
	c.Next()
}

// adminOf returns the admin requireAdmin put on the context.
func adminOf(c *gin.Context) Admin {
	a, _ := c.Get(ctxAdmin)
	admin, _ := a.(Admin)
	return admin
}

// safeNext returns next when it is a path inside the console, so the
// sign-in page cannot be used to redirect anywhere else.
func safeNext(next string) string {
	if !strings.HasPrefix(next, basePath+"/") || strings.ContainsAny(next, "\\\r\n") {
		return licensesPath
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return licensesPath
	}
	clean := path.Clean(u.Path)
	if !strings.HasPrefix(clean, basePath+"/") || strings.HasPrefix(clean, signinPath) {
		return licensesPath
	}
	u.Path = clean
	return u.RequestURI()
}

// newProtect builds the gorilla/csrf middleware for Secure or plain cookies.
func (cs *Console) newProtect(k keys, secure bool) func(http.Handler) http.Handler {
	return csrf.Protect(k.csrf,
		csrf.CookieName(csrfCookie),
		csrf.FieldName(csrfField),
		csrf.Path(cookiePath),
		csrf.HttpOnly(true),
		csrf.SameSite(csrf.SameSiteStrictMode),
		csrf.Secure(secure),
		csrf.MaxAge(int((24 * time.Hour).Seconds())),
		csrf.ErrorHandler(http.HandlerFunc(cs.csrfFailed)),
	)
}

// csrfProtect runs gorilla/csrf as gin middleware: every unsafe request
// needs the form's token matching the CSRF cookie (and, over TLS, a
// same-origin Origin or Referer).
func (cs *Console) csrfProtect(c *gin.Context) {
	r := c.Request
	protect := cs.protectSecure
	if !secure(r) {
		// Plain HTTP (dev mode): gorilla/csrf would otherwise demand an
		// https Origin or Referer.
		r = csrf.PlaintextHTTPRequest(r)
		protect = cs.protectPlain
	}
	passed := false
	protect(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		passed = true
		c.Request = r
	})).ServeHTTP(c.Writer, r)
	if !passed {
		c.Abort()
		return
	}
	c.Next()
}

// csrfFailed answers a request whose CSRF token is missing or wrong.
func (cs *Console) csrfFailed(w http.ResponseWriter, r *http.Request) {
	cs.log.WarnContext(r.Context(), "console: CSRF check failed",
		"path", r.URL.Path, "reason", csrf.FailureReason(r))
	cs.writePage(w, r, http.StatusForbidden, "error", &view{
		Title: "Form expired",
		Data: errorPage{
			Status:  http.StatusForbidden,
			Message: "This form has expired or did not come from this console. Go back, reload the page and try again.",
		},
	})
}
