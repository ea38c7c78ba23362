// Package console is the admin console at /console: server-rendered HTML
// pages (html/template, embedded with embed) over the same admin operations
// as the admin API. It is a client of those operations, never a second
// implementation: every change goes through the Service, which the app wires
// to the domain services.
//
// Sign-in takes an admin key, validated exactly as the admin API validates
// bearer keys; the session is an encrypted, HttpOnly, SameSite=Strict cookie
// (Secure over TLS) holding that key, checked again on every request so a
// revoked key ends its sessions at once. Every form carries a gorilla/csrf
// token.
package console

import (
	"context"
	"github.com/gin-gonic/gin"
	"log/slog"
	"net/http"
	"time"

	"github.com/licensing-service/licensing/internal/licensing"
)

// Admin is the signed-in administrator.
type Admin struct {
	// Name is recorded as the actor of audit events.
	Name string
	// Key is the admin key the administrator signed in with. The session
	// keeps it (encrypted) so every request is authorised afresh.
	Key string
}

// License is a license as the console shows it.
type License struct {
	ID                  string
	TenantID            string
	TenantName          string
	MaxApps             int
	MaxExecutionsPer24h int
	ValidFrom           time.Time
	ValidTo             time.Time
	Status              string
	EffectiveStatus     string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Usage is a license's consumption at one instant.
type Usage struct {
	AppsUsed       int
	ExecutionsUsed int
	// NextSlotAt is when the oldest execution in the window leaves it; nil
	// when the window is empty.
	NextSlotAt *time.Time
	// Hourly holds the executions started in each of the last 24 hours,
	// oldest first; the last entry is the hour ending now. Only Usage (the
	// detail page) fills it.
	Hourly []int
}

// Row is one line of the licenses list.
type Row struct {
	License
	Usage
}

// ListFilter selects licenses for the list page.
type ListFilter struct {
	// Tenant matches tenant ids and names (case-insensitive substring).
	Tenant string
	// Status is ACTIVE, SUSPENDED or REVOKED; empty for any.
	Status string
	// EffectiveStatus is ACTIVE, SUSPENDED, REVOKED, EXPIRED or
	// NOT_YET_VALID; empty for any.
	EffectiveStatus string
	// Cursor is the opaque position after which the page starts.
	Cursor string
	// Limit is the page size.
	Limit int
}

// Page is one page of the licenses list.
type Page struct {
	Rows []Row
	// NextCursor is the position of the next page, empty on the last one.
	NextCursor string
}

// LicenseInput holds the fields of a create or an update. On update, nil
// fields are left as they are.
type LicenseInput struct {
	TenantID            string
	TenantName          string
	MaxApps             *int
	MaxExecutionsPer24h *int
	ValidFrom           *time.Time
	ValidTo             *time.Time
}

// Token is a newly issued license token, shown once.
type Token struct {
	Token     string
	ExpiresAt time.Time
}

// Event is one audit trail entry.
type Event struct {
	ID        int64
	Actor     string
	Action    string
	Before    map[string]any
	After     map[string]any
	Reason    string
	CreatedAt time.Time
}

// Service is exactly what the console needs from the domain: the admin
// operations of the admin API and the usage figures of the quota service.
// Errors are *licensing.Error values; the console shows their messages and
// puts their field errors next to the form fields.
type Service interface {
	// Authenticate returns the admin holding key, or an UNAUTHORIZED error.
	Authenticate(ctx context.Context, key string) (Admin, error)
	List(ctx context.Context, f ListFilter) (Page, error)
	Get(ctx context.Context, id string) (License, error)
	// Usage returns the license's usage with Hourly filled in.
	Usage(ctx context.Context, id string) (Usage, error)
	Events(ctx context.Context, id string) ([]Event, error)
	Create(ctx context.Context, by Admin, in LicenseInput) (License, Token, error)
	Update(ctx context.Context, by Admin, id string, in LicenseInput, reason string) (License, error)
	Suspend(ctx context.Context, by Admin, id, reason string) (License, error)
	Reactivate(ctx context.Context, by Admin, id, reason string) (License, error)
	Revoke(ctx context.Context, by Admin, id, reason string) (License, error)
	IssueToken(ctx context.Context, by Admin, id string, revokePrevious bool) (Token, error)
}

// Options configure the console.
type Options struct {
	Service Service
	Logger  *slog.Logger
	// Secret seeds the session encryption and CSRF keys; replicas behind one
	// address need the same secret. Empty draws a random one, so sessions
	// end when the process restarts.
	Secret []byte
	// StatusOf maps an error code to its HTTP status: the API's one map.
	StatusOf func(licensing.Code) int
	// SessionTTL bounds a session's life; 0 means 12 hours.
	SessionTTL time.Duration
	// SigninGuard, when set, runs before each sign-in attempt: the app puts
	// the limit on failed admin authentications here (api.SigninGuard).
	SigninGuard gin.HandlerFunc
}

// statusOf returns the HTTP status of err.
func (o Options) statusOf(err error) int {
	code := licensing.ErrorCode(err)
	if o.StatusOf != nil {
		return o.StatusOf(code)
	}
	return http.StatusInternalServerError
}
