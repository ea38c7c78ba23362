package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/licensing"
)

// statusOf is the one map from error code to HTTP status.
var statusOf = map[licensing.Code]int{
	licensing.CodeValidation:         http.StatusBadRequest,
	licensing.CodeMalformedJSON:      http.StatusBadRequest,
	licensing.CodeBodyTooLarge:       http.StatusRequestEntityTooLarge,
	licensing.CodeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	licensing.CodeUnauthorized:       http.StatusUnauthorized,
	licensing.CodeInvalidToken:       http.StatusUnauthorized,
	licensing.CodeForbidden:          http.StatusForbidden,
	licensing.CodeNotFound:           http.StatusNotFound,
	licensing.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	licensing.CodeLicenseNotFound:    http.StatusNotFound,
	licensing.CodeTenantTaken:        http.StatusConflict,
	licensing.CodeInvalidTransition:  http.StatusConflict,
	licensing.CodeAdminKeyNameTaken:  http.StatusConflict,
	licensing.CodeAdminKeyNotFound:   http.StatusNotFound,
	licensing.CodeLicenseSuspended:   http.StatusForbidden,
	licensing.CodeLicenseRevoked:     http.StatusForbidden,
	licensing.CodeLicenseExpired:     http.StatusForbidden,
	licensing.CodeLicenseNotYetValid: http.StatusForbidden,
	licensing.CodeAppLimitReached:    http.StatusForbidden,
	licensing.CodeAppNameTaken:       http.StatusConflict,
	licensing.CodeAppNotFound:        http.StatusNotFound,
	licensing.CodeJobNotFound:        http.StatusNotFound,
	licensing.CodeJobNotRunning:      http.StatusConflict,
	licensing.CodeQuotaExceeded:      http.StatusTooManyRequests,
	licensing.CodeIdempotencyReused:  http.StatusUnprocessableEntity,
	licensing.CodeTooManyRequests:    http.StatusTooManyRequests,
	licensing.CodeUnavailable:        http.StatusServiceUnavailable,
	licensing.CodeInternal:           http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem detail with the service's extension
// members: a stable code, per-field errors and code-specific members.
type Problem struct {
	Type     string                 `json:"type"`
	Title    string                 `json:"title"`
	Status   int                    `json:"status"`
	Detail   string                 `json:"detail,omitempty"`
	Instance string                 `json:"instance,omitempty"`
	Code     licensing.Code         `json:"code"`
	Errors   []licensing.FieldError `json:"errors,omitempty"`
	// RequestID lets a client quote the log line of its request.
	RequestID string `json:"request_id,omitempty"`
}

// StatusOf returns the HTTP status for an error code.
func StatusOf(code licensing.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// problemType is the type URI of a code: a stable, documented identifier.
func problemType(code licensing.Code) string {
	return "https://github.com/licensing-service/licensing/blob/main/README.md#error-" +
		strings.ToLower(strings.ReplaceAll(string(code), "_", "-"))
}

// writeError renders err as a problem detail and aborts the request.
// Internal errors are logged with their cause and sent as a generic message.
func writeError(c *gin.Context, err error) {
	e := licensing.AsError(err)
	status := StatusOf(e.Code)
	if status >= 500 {
		logger(c).ErrorContext(c.Request.Context(), "request failed",
			"code", e.Code, "err", err, "method", c.Request.Method, "path", c.FullPath())
	} else if e.Err != nil {
		logger(c).DebugContext(c.Request.Context(), "request refused", "code", e.Code, "err", e.Err)
	}
	body := gin.H{
		"type":   problemType(e.Code),
		"title":  http.StatusText(status),
		"status": status,
		"detail": e.Message,
		"code":   e.Code,
	}
	if c.Request != nil && c.Request.URL != nil {
		body["instance"] = c.Request.URL.Path
	}
	if len(e.Fields) > 0 {
		body["errors"] = e.Fields
	}
	if id := requestID(c); id != "" {
		body["request_id"] = id
	}
	for k, v := range e.Extra {
		if _, taken := body[k]; !taken {
			body[k] = v
		}
	}
	if e.RetryAfterSeconds > 0 {
		c.Header("Retry-After", strconv.FormatInt(e.RetryAfterSeconds, 10))
	}
	c.Header("Content-Type", "application/problem+json")
	c.Render(status, problemJSON{body})
	c.Abort()
}

// problemJSON renders with the problem+json content type (gin's JSON render
// would overwrite it with application/json).
type problemJSON struct{ data any }

func (p problemJSON) Render(w http.ResponseWriter) error {
	return renderJSON(w, p.data)
}

func (p problemJSON) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
}

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
