// Package licensing is the domain of the service: licenses, their lifecycle,
// and the one error type every layer speaks. The api package maps an Error's
// Code to an HTTP status; the store translates database errors into Errors.
package licensing

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code, sent to clients as the
// "code" member of a problem detail.
type Code string

// The error codes of the service. Clients may rely on them.
const (
	CodeValidation         Code = "VALIDATION_FAILED"
	CodeMalformedJSON      Code = "MALFORMED_JSON"
	CodeBodyTooLarge       Code = "BODY_TOO_LARGE"
	CodeUnsupportedMedia   Code = "UNSUPPORTED_MEDIA_TYPE"
	CodeUnauthorized       Code = "UNAUTHORIZED"
	CodeInvalidToken       Code = "INVALID_TOKEN"
	CodeForbidden          Code = "FORBIDDEN"
	CodeNotFound           Code = "NOT_FOUND"
	CodeMethodNotAllowed   Code = "METHOD_NOT_ALLOWED"
	CodeLicenseNotFound    Code = "LICENSE_NOT_FOUND"
	CodeTenantTaken        Code = "TENANT_ID_TAKEN"
	CodeInvalidTransition  Code = "INVALID_TRANSITION"
	CodeAdminKeyNameTaken  Code = "ADMIN_KEY_NAME_TAKEN"
	CodeAdminKeyNotFound   Code = "ADMIN_KEY_NOT_FOUND"
	CodeLicenseSuspended   Code = "LICENSE_SUSPENDED"
	CodeLicenseRevoked     Code = "LICENSE_REVOKED"
	CodeLicenseExpired     Code = "LICENSE_EXPIRED"
	CodeLicenseNotYetValid Code = "LICENSE_NOT_YET_VALID"
	CodeAppLimitReached    Code = "APP_LIMIT_REACHED"
	CodeAppNameTaken       Code = "APP_NAME_TAKEN"
	CodeAppNotFound        Code = "APP_NOT_FOUND"
	CodeJobNotFound        Code = "JOB_NOT_FOUND"
	CodeJobNotRunning      Code = "JOB_NOT_RUNNING"
	CodeQuotaExceeded      Code = "EXECUTION_QUOTA_EXCEEDED"
	CodeIdempotencyReused  Code = "IDEMPOTENCY_KEY_REUSED"
	CodeTooManyRequests    Code = "TOO_MANY_REQUESTS"
	CodeUnavailable        Code = "SERVICE_UNAVAILABLE"
	CodeInternal           Code = "INTERNAL"
)

// FieldError says what is wrong with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the service's error: a stable code, a message safe to show to the
// client, optional per-field detail and extension members, and an internal
// cause that is logged but never sent.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Extra members of the problem detail (max_apps, current_count, ...).
	Extra map[string]any
	// RetryAfterSeconds, when positive, becomes a Retry-After header.
	RetryAfterSeconds int64
	// Err is the internal cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure: the client sees a generic message,
// the log sees err.
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// Invalid returns a VALIDATION_FAILED error listing the bad fields.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeValidation, Message: "the request has invalid fields", Fields: fields}
}

// ErrorCode returns err's Code, CodeInternal for any other error, and ""
// for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as an *Error, wrapping unknown errors as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
