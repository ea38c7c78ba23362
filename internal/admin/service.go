// Package admin is license administration: creating licenses, changing their
// limits and dates, moving them through their lifecycle, issuing their
// tokens, reading their audit trail, and the admin keys that may do all this.
//
// Every change runs in one READ COMMITTED transaction that first locks the
// license row (SELECT ... FOR UPDATE), then changes it and appends its audit
// row (license_events) before committing, so the trail holds exactly the
// committed changes, in the order they happened, each with the state it
// replaced. The HTTP API (api/admin.go) and the admin console are both thin
// clients of this package; errors are *licensing.Error values whose codes
// map to HTTP statuses in the api package.
//
// Lifecycle: ACTIVE <-> SUSPENDED, ACTIVE or SUSPENDED -> REVOKED, and
// REVOKED is terminal. A transition to the state a license is already in is
// refused like any other disallowed transition (409 INVALID_TRANSITION),
// because it changes nothing and a retried request should learn the state
// it found rather than leave a misleading audit row.
package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/postgres"
)

// Bounds of the input, checked before anything reaches the database.
const (
	// MaxApps is the largest max_apps a license may have.
	MaxApps = 1_000_000
	// MaxExecutionsPer24h is the largest max_executions_per_24h.
	MaxExecutionsPer24h = 1_000_000_000
	// MaxReasonLength is the longest reason, in characters.
	MaxReasonLength = 1000
	// DefaultPageSize and MaxPageSize bound list pages.
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// The actions recorded in license_events.action.
const (
	ActionCreate     = "CREATE"
	ActionUpdate     = "UPDATE"
	ActionSuspend    = "SUSPEND"
	ActionReactivate = "REACTIVATE"
	ActionRevoke     = "REVOKE"
	ActionTokenIssue = "TOKEN_ISSUE"
)

// tenantIDPattern is the tenant_id_format constraint of the licenses table.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Config configures a Service.
type Config struct {
	// AdminToken, when not empty, is accepted as an admin key with actor
	// EnvActor (LICENSING_ADMIN_TOKEN).
	AdminToken string
}

// Service administers licenses and admin keys. It is safe for concurrent use.
type Service struct {
	pool   *pgxpool.Pool
	cfg    Config
	tokens TokenIssuer
	log    *slog.Logger
}

// New returns a Service on pool. tokens signs the license tokens that
// Create and IssueToken hand out.
func New(pool *pgxpool.Pool, cfg Config, tokens TokenIssuer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, cfg: cfg, tokens: tokens, log: log}
}

// CreateInput is a new license. Pointer fields are optional at the API and
// checked here: MaxApps and MaxExecutionsPer24h are required; ValidFrom
// defaults to now, ValidTo to one year after ValidFrom, Status to ACTIVE.
type CreateInput struct {
	TenantID            string
	TenantName          string
	MaxApps             *int64
	MaxExecutionsPer24h *int64
	ValidFrom           *time.Time
	ValidTo             *time.Time
	// Status is ACTIVE (the default) or SUSPENDED; a license is never created REVOKED.
	Status string
	// Reason is recorded in the audit row.
	Reason string
	// TokenExpiresAt, when set, is the expiry of the license's first token
	// (default: the token service's TTL).
	TokenExpiresAt *time.Time
	// Refused are the fields the caller already refused (a value of the
	// wrong type, say); Create reports them together with its own findings
	// about the other fields.
	Refused []licensing.FieldError
}

// Created is a new license and its first token.
type Created struct {
	License db.License
	Token   Token
}

// Create validates in, inserts the license, issues its first token and
// records CREATE and TOKEN_ISSUE audit rows, all in one transaction.
// Errors: VALIDATION_FAILED with per-field detail, TENANT_ID_TAKEN.
func (s *Service) Create(ctx context.Context, actor string, in CreateInput) (Created, error) {
	fe := fieldErrors(slices.Clone(in.Refused))
	in.TenantName = strings.TrimSpace(in.TenantName)
	checkTenantID(&fe, in.TenantID)
	checkTenantName(&fe, in.TenantName)
	maxApps := fe.limit("max_apps", in.MaxApps, MaxApps, true)
	maxExec := fe.limit("max_executions_per_24h", in.MaxExecutionsPer24h, MaxExecutionsPer24h, true)
	now := time.Now().UTC()
	from := now
	if in.ValidFrom != nil {
		from = in.ValidFrom.UTC()
	}
	to := from.AddDate(1, 0, 0)
	if in.ValidTo != nil {
		to = in.ValidTo.UTC()
	}
	fe.instant("valid_from", in.ValidFrom)
	fe.instant("valid_to", in.ValidTo)
	fe.instant("token_expires_at", in.TokenExpiresAt)
	switch {
	case fe.has("valid_from") || fe.has("valid_to"):
		// The dates are compared only when both are usable.
	case in.ValidTo == nil && !licensing.InstantInRange(to):
		fe.add("valid_to", "is required: valid_from plus one year (the default) is after 9999-12-31T23:59:59Z")
	case !from.Before(to):
		fe.add("valid_to", "must be after valid_from")
	case !to.After(now):
		// A license born expired could get no token; it is a typo.
		fe.add("valid_to", "must be in the future")
	}
	switch in.Status {
	case "":
		in.Status = licensing.StatusActive
	case licensing.StatusActive, licensing.StatusSuspended:
	case licensing.StatusRevoked:
		fe.add("status", "a license cannot be created REVOKED")
	default:
		fe.add("status", "must be ACTIVE or SUSPENDED")
	}
	checkReason(&fe, in.Reason)
	if in.TokenExpiresAt != nil && !in.TokenExpiresAt.After(now) {
		fe.add("token_expires_at", "must be in the future")
	}
	if err := fe.err(); err != nil {
		return Created{}, err
	}
	var out Created
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		lic, err := q.LicenseCreate(ctx, db.LicenseCreateParams{
			TenantID:            in.TenantID,
			TenantName:          in.TenantName,
			MaxApps:             maxApps,
			MaxExecutionsPer24h: maxExec,
			ValidFrom:           from,
			ValidTo:             to,
			Status:              in.Status,
		})
		if err != nil {
			return err
		}
		if err := audit(ctx, q, lic.ID, actor, ActionCreate, nil, snapshotOf(lic), in.Reason); err != nil {
			return err
		}
		var expires time.Time
		if in.TokenExpiresAt != nil {
			expires = *in.TokenExpiresAt
		}
		tok, err := s.issue(ctx, q, actor, lic, expires, false, 0, in.Reason)
		if err != nil {
			return err
		}
		out = Created{License: lic, Token: tok}
		return nil
	})
	if err != nil {
		return Created{}, err
	}
	s.log.InfoContext(ctx, "admin: license created", "license_id", out.License.ID, "tenant_id", out.License.TenantID, "actor", actor)
	return out, nil
}

// Get returns one license. Errors: LICENSE_NOT_FOUND.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (db.License, error) {
	lic, err := db.New(s.pool).LicenseGet(ctx, id)
	if err != nil {
		return db.License{}, licenseErr(err, id)
	}
	return lic, nil
}

// GetByTenant returns the license of a tenant. Errors: LICENSE_NOT_FOUND.
func (s *Service) GetByTenant(ctx context.Context, tenantID string) (db.License, error) {
	lic, err := db.New(s.pool).LicenseGetByTenant(ctx, tenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.License{}, licensing.Errorf(licensing.CodeLicenseNotFound, "no license for tenant %q", tenantID)
	}
	if err != nil {
		return db.License{}, postgres.Translate(err)
	}
	return lic, nil
}

// ListFilter selects and pages licenses. Empty fields mean "any".
type ListFilter struct {
	// Status is an administrative status: ACTIVE, SUSPENDED or REVOKED.
	Status string
	// EffectiveStatus is ACTIVE, SUSPENDED, REVOKED, EXPIRED or NOT_YET_VALID, now.
	EffectiveStatus string
	// TenantID matches exactly.
	TenantID string
	// Search matches a substring of tenant_id or tenant_name, ignoring case.
	Search string
	// Cursor is a Page's NextCursor: the page after it.
	Cursor string
	// Limit is the page size, 1 to MaxPageSize; 0 means DefaultPageSize.
	Limit int
}

// Page is one page of licenses in tenant_id order.
type Page struct {
	Licenses []db.License
	// NextCursor, when not empty, fetches the next page.
	NextCursor string
}

// List returns a page of licenses in tenant_id order. Pagination is keyset
// pagination on tenant_id, so pages stay consistent while licenses are
// added. Errors: VALIDATION_FAILED for a bad filter, limit or cursor.
func (s *Service) List(ctx context.Context, f ListFilter) (Page, error) {
	var fe fieldErrors
	p := db.LicenseListParams{RowLimit: DefaultPageSize + 1}
	switch f.Status {
	case "":
	case licensing.StatusActive, licensing.StatusSuspended, licensing.StatusRevoked:
		p.Status = &f.Status
	default:
		fe.add("status", "must be ACTIVE, SUSPENDED or REVOKED")
	}
	switch f.EffectiveStatus {
	case "":
	case licensing.StatusActive, licensing.StatusSuspended, licensing.StatusRevoked, licensing.StatusExpired, licensing.StatusNotYetValid:
		p.EffectiveStatus = &f.EffectiveStatus
	default:
		fe.add("effective_status", "must be ACTIVE, SUSPENDED, REVOKED, EXPIRED or NOT_YET_VALID")
	}
	if f.TenantID != "" {
		checkText(&fe, "tenant_id", f.TenantID)
		p.TenantID = &f.TenantID
	}
	if f.Search != "" {
		if utf8.RuneCountInString(f.Search) > 255 {
			fe.add("search", "must be at most 255 characters")
		}
		checkText(&fe, "search", f.Search)
		p.Search = &f.Search
	}
	switch {
	case f.Limit == 0:
	case f.Limit < 1 || f.Limit > MaxPageSize:
		fe.add("limit", fmt.Sprintf("must be from 1 to %d", MaxPageSize))
	default:
		p.RowLimit = int32(f.Limit) + 1
	}
	if f.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || !tenantIDPattern.Match(after) {
			fe.add("cursor", "is not a cursor this service handed out")
		} else {
			a := string(after)
			p.AfterTenantID = &a
		}
	}
	if err := fe.err(); err != nil {
		return Page{}, err
	}
	rows, err := db.New(s.pool).LicenseList(ctx, p)
	if err != nil {
		return Page{}, postgres.Translate(err)
	}
	page := Page{Licenses: rows}
	if n := int(p.RowLimit) - 1; len(rows) > n {
		page.Licenses = rows[:n]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(rows[n-1].TenantID))
	}
	return page, nil
}

// UpdateInput changes a license's limits, dates or name (an upgrade or a
// downgrade). Nil fields keep their value; at least one must be set.
type UpdateInput struct {
	TenantName          *string
	MaxApps             *int64
	MaxExecutionsPer24h *int64
	ValidFrom           *time.Time
	ValidTo             *time.Time
	Reason              string
	// Refused are the fields the caller already refused; Update reports
	// them together with its own findings.
	Refused []licensing.FieldError
}

// Update applies in to the license under its row lock and records an UPDATE
// audit row with the values before and after. A lowered limit takes effect
// for the next admission decision; nothing already admitted is undone.
// Errors: VALIDATION_FAILED, LICENSE_NOT_FOUND, INVALID_TRANSITION (the
// license is REVOKED).
func (s *Service) Update(ctx context.Context, actor string, id uuid.UUID, in UpdateInput) (db.License, error) {
	fe := fieldErrors(slices.Clone(in.Refused))
	if len(in.Refused) == 0 && in.TenantName == nil && in.MaxApps == nil && in.MaxExecutionsPer24h == nil && in.ValidFrom == nil && in.ValidTo == nil {
		fe.add("(body)", "give at least one of tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to")
	}
	if in.TenantName != nil {
		n := strings.TrimSpace(*in.TenantName)
		in.TenantName = &n
		checkTenantName(&fe, n)
	}
	fe.limit("max_apps", in.MaxApps, MaxApps, false)
	fe.limit("max_executions_per_24h", in.MaxExecutionsPer24h, MaxExecutionsPer24h, false)
	checkReason(&fe, in.Reason)
	fe.instant("valid_from", in.ValidFrom)
	fe.instant("valid_to", in.ValidTo)
	if in.ValidFrom != nil && in.ValidTo != nil && !in.ValidFrom.Before(*in.ValidTo) {
		fe.add("valid_to", "must be after valid_from")
	}
	if err := fe.err(); err != nil {
		return db.License{}, err
	}
	var out db.License
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		cur, err := q.LicenseGetForUpdate(ctx, id)
		if err != nil {
			return licenseErr(err, id)
		}
		if cur.Status == licensing.StatusRevoked {
			return transitionErr(cur, "change")
		}
		p := db.LicenseUpdateParams{
			ID:                  id,
			TenantName:          cur.TenantName,
			MaxApps:             cur.MaxApps,
			MaxExecutionsPer24h: cur.MaxExecutionsPer24h,
			ValidFrom:           cur.ValidFrom,
			ValidTo:             cur.ValidTo,
		}
		if in.TenantName != nil {
			p.TenantName = *in.TenantName
		}
		if in.MaxApps != nil {
			p.MaxApps = int32(*in.MaxApps)
		}
		if in.MaxExecutionsPer24h != nil {
			p.MaxExecutionsPer24h = int32(*in.MaxExecutionsPer24h)
		}
		if in.ValidFrom != nil {
			p.ValidFrom = in.ValidFrom.UTC()
		}
		if in.ValidTo != nil {
			p.ValidTo = in.ValidTo.UTC()
		}
		if !p.ValidFrom.Before(p.ValidTo) {
			// One date moved past the other, unchanged one.
			field := "valid_to"
			if in.ValidTo == nil {
				field = "valid_from"
			}
			return licensing.Invalid(licensing.FieldError{Field: field, Message: fmt.Sprintf(
				"valid_from must be before valid_to (the license has valid_from %s, valid_to %s)",
				cur.ValidFrom.UTC().Format(time.RFC3339), cur.ValidTo.UTC().Format(time.RFC3339))})
		}
		next, err := q.LicenseUpdate(ctx, p)
		if err != nil {
			return err
		}
		if err := audit(ctx, q, id, actor, ActionUpdate, snapshotOf(cur), snapshotOf(next), in.Reason); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return db.License{}, err
	}
	s.log.InfoContext(ctx, "admin: license updated", "license_id", id, "actor", actor)
	return out, nil
}

// Suspend moves an ACTIVE license to SUSPENDED: its tokens stop working
// until it is reactivated. Errors: VALIDATION_FAILED (reason),
// LICENSE_NOT_FOUND, INVALID_TRANSITION (SUSPENDED or REVOKED already).
func (s *Service) Suspend(ctx context.Context, actor string, id uuid.UUID, reason string) (db.License, error) {
	return s.transition(ctx, actor, id, reason, ActionSuspend, licensing.StatusSuspended, licensing.StatusActive)
}

// Reactivate moves a SUSPENDED license back to ACTIVE. Errors:
// VALIDATION_FAILED (reason), LICENSE_NOT_FOUND, INVALID_TRANSITION (ACTIVE
// already, or REVOKED, which is terminal).
func (s *Service) Reactivate(ctx context.Context, actor string, id uuid.UUID, reason string) (db.License, error) {
	return s.transition(ctx, actor, id, reason, ActionReactivate, licensing.StatusActive, licensing.StatusSuspended)
}

// Revoke ends an ACTIVE or SUSPENDED license for good: REVOKED is terminal
// and the license is kept, never deleted. Errors: VALIDATION_FAILED
// (reason), LICENSE_NOT_FOUND, INVALID_TRANSITION (REVOKED already).
func (s *Service) Revoke(ctx context.Context, actor string, id uuid.UUID, reason string) (db.License, error) {
	return s.transition(ctx, actor, id, reason, ActionRevoke, licensing.StatusRevoked, licensing.StatusActive, licensing.StatusSuspended)
}

// transition moves the license to status `to` when its current status is
// one of from, under the row lock, and records the audit row.
func (s *Service) transition(ctx context.Context, actor string, id uuid.UUID, reason, action, to string, from ...string) (db.License, error) {
	var fe fieldErrors
	checkReason(&fe, reason)
	if err := fe.err(); err != nil {
		return db.License{}, err
	}
	var out db.License
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		cur, err := q.LicenseGetForUpdate(ctx, id)
		if err != nil {
			return licenseErr(err, id)
		}
		allowed := false
		for _, f := range from {
			allowed = allowed || cur.Status == f
		}
		if !allowed {
			return transitionErr(cur, strings.ToLower(action))
		}
		next, err := q.LicenseSetStatus(ctx, db.LicenseSetStatusParams{ID: id, Status: to})
		if err != nil {
			return err
		}
		if err := audit(ctx, q, id, actor, action, snapshotOf(cur), snapshotOf(next), reason); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return db.License{}, err
	}
	s.log.InfoContext(ctx, "admin: license status changed", "license_id", id, "action", action, "status", to, "actor", actor)
	return out, nil
}

// IssueTokenInput asks for a new token of a license.
type IssueTokenInput struct {
	// RevokePrevious raises the license's token version first, so every
	// token issued before stops working.
	RevokePrevious bool
	// ExpiresAt, when set, must be in the future; unset means the token
	// service's default lifetime.
	ExpiresAt *time.Time
	Reason    string
	// Refused are the fields the caller already refused; IssueToken
	// reports them together with its own findings.
	Refused []licensing.FieldError
}

// IssueToken issues a new token of the license and records a TOKEN_ISSUE
// audit row (the token's id, key id and expiry, never the token). A
// SUSPENDED license gets a token that works once it is reactivated.
// Errors: VALIDATION_FAILED, LICENSE_NOT_FOUND, INVALID_TRANSITION (REVOKED,
// or EXPIRED: past valid_to).
func (s *Service) IssueToken(ctx context.Context, actor string, id uuid.UUID, in IssueTokenInput) (Token, error) {
	fe := fieldErrors(slices.Clone(in.Refused))
	checkReason(&fe, in.Reason)
	if in.ExpiresAt != nil && !in.ExpiresAt.After(time.Now()) {
		fe.add("expires_at", "must be in the future")
	}
	fe.instant("expires_at", in.ExpiresAt)
	if err := fe.err(); err != nil {
		return Token{}, err
	}
	var out Token
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		lic, err := q.LicenseGetForUpdate(ctx, id)
		if err != nil {
			return licenseErr(err, id)
		}
		if lic.Status == licensing.StatusRevoked {
			return transitionErr(lic, "issue a token for")
		}
		if !lic.ValidTo.After(time.Now()) {
			return &licensing.Error{
				Code:    licensing.CodeInvalidTransition,
				Message: fmt.Sprintf("cannot issue a token for a license that expired at %s; extend valid_to first", lic.ValidTo.UTC().Format(time.RFC3339)),
				Extra:   map[string]any{"license_status": licensing.StatusExpired},
			}
		}
		previous := lic.TokenVersion
		if in.RevokePrevious {
			if lic, err = q.LicenseBumpTokenVersion(ctx, id); err != nil {
				return err
			}
		}
		var expires time.Time
		if in.ExpiresAt != nil {
			expires = *in.ExpiresAt
		}
		out, err = s.issue(ctx, q, actor, lic, expires, in.RevokePrevious, previous, in.Reason)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	s.log.InfoContext(ctx, "admin: token issued", "license_id", id, "jti", out.ID, "revoke_previous", in.RevokePrevious, "actor", actor)
	return out, nil
}

// issue signs a token for lic and records its TOKEN_ISSUE row in q's transaction.
func (s *Service) issue(ctx context.Context, q *db.Queries, actor string, lic db.License, expires time.Time, revokedPrevious bool, previousVersion int32, reason string) (Token, error) {
	if s.tokens == nil {
		return Token{}, &licensing.Error{Code: licensing.CodeUnavailable, Message: "token issuing is not configured"}
	}
	tok, err := s.tokens.IssueIn(ctx, q, lic, expires)
	if err != nil {
		return Token{}, err
	}
	var before any
	if revokedPrevious {
		before = map[string]any{"token_version": previousVersion}
	}
	after := map[string]any{
		"jti":             tok.ID,
		"kid":             tok.KeyID,
		"expires_at":      tok.ExpiresAt.UTC(),
		"token_version":   lic.TokenVersion,
		"revoke_previous": revokedPrevious,
	}
	if err := audit(ctx, q, lic.ID, actor, ActionTokenIssue, before, after, reason); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// EventPage is one page of a license's audit trail, oldest first.
type EventPage struct {
	Events []db.LicenseEvent
	// NextAfter, when positive, is the After of the next page.
	NextAfter int64
}

// Events returns a page of a license's audit trail, oldest first: the
// events after event id after (0: from the start), at most limit (0:
// DefaultPageSize). Errors: VALIDATION_FAILED, LICENSE_NOT_FOUND.
func (s *Service) Events(ctx context.Context, id uuid.UUID, after int64, limit int) (EventPage, error) {
	var fe fieldErrors
	if after < 0 {
		fe.add("after", "must not be negative")
	}
	if limit == 0 {
		limit = DefaultPageSize
	} else if limit < 1 || limit > MaxPageSize {
		fe.add("limit", fmt.Sprintf("must be from 1 to %d", MaxPageSize))
	}
	if err := fe.err(); err != nil {
		return EventPage{}, err
	}
	q := db.New(s.pool)
	if _, err := q.LicenseGet(ctx, id); err != nil {
		return EventPage{}, licenseErr(err, id)
	}
	evs, err := q.LicenseEventList(ctx, db.LicenseEventListParams{LicenseID: id, AfterID: after, RowLimit: int32(limit) + 1})
	if err != nil {
		return EventPage{}, postgres.Translate(err)
	}
	page := EventPage{Events: evs}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.NextAfter = evs[limit-1].ID
	}
	return page, nil
}

// snapshot is what an audit row records of a license.
type snapshot struct {
	TenantID            string    `json:"tenant_id"`
	TenantName          string    `json:"tenant_name"`
	MaxApps             int32     `json:"max_apps"`
	MaxExecutionsPer24h int32     `json:"max_executions_per_24h"`
	ValidFrom           time.Time `json:"valid_from"`
	ValidTo             time.Time `json:"valid_to"`
	Status              string    `json:"status"`
	TokenVersion        int32     `json:"token_version"`
}

func snapshotOf(l db.License) snapshot {
	return snapshot{
		TenantID:            l.TenantID,
		TenantName:          l.TenantName,
		MaxApps:             l.MaxApps,
		MaxExecutionsPer24h: l.MaxExecutionsPer24h,
		ValidFrom:           l.ValidFrom.UTC(),
		ValidTo:             l.ValidTo.UTC(),
		Status:              l.Status,
		TokenVersion:        l.TokenVersion,
	}
}

// audit appends one license_events row in q's transaction. A nil before or
// after is stored as SQL NULL.
func audit(ctx context.Context, q *db.Queries, id uuid.UUID, actor, action string, before, after any, reason string) error {
	p := db.LicenseEventInsertParams{LicenseID: id, Actor: actor, Action: action}
	var err error
	if before != nil {
		if p.Before, err = json.Marshal(before); err != nil {
			return licensing.Internal(err)
		}
	}
	if after != nil {
		if p.After, err = json.Marshal(after); err != nil {
			return licensing.Internal(err)
		}
	}
	if reason != "" {
		p.Reason = &reason
	}
	_, err = q.LicenseEventInsert(ctx, p)
	return err
}

// licenseErr translates a failed read of license id.
func licenseErr(err error, id uuid.UUID) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return &licensing.Error{Code: licensing.CodeLicenseNotFound, Message: fmt.Sprintf("no license with id %s", id), Extra: map[string]any{"license_id": id.String()}}
	}
	return postgres.Translate(err)
}

// transitionErr refuses an action on a license in its current status.
func transitionErr(l db.License, verb string) error {
	return &licensing.Error{
		Code:    licensing.CodeInvalidTransition,
		Message: fmt.Sprintf("cannot %s a license that is %s", verb, l.Status),
		Extra:   map[string]any{"license_status": l.Status},
	}
}

// fieldErrors collects per-field validation failures.
type fieldErrors []licensing.FieldError

// add records msg for field unless field is refused already: one message
// per field, the first (a value of the wrong type refused by the caller
// comes before "is required").
func (fe *fieldErrors) add(field, msg string) {
	if !fe.has(field) {
		*fe = append(*fe, licensing.FieldError{Field: field, Message: msg})
	}
}

// has reports whether field is refused already.
func (fe fieldErrors) has(field string) bool {
	return slices.ContainsFunc(fe, func(f licensing.FieldError) bool { return f.Field == field })
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return licensing.Invalid(fe...)
}

// instant refuses an optional instant outside the years 1 to 9999 (UTC):
// stored, it could not be rendered as RFC 3339.
func (fe *fieldErrors) instant(field string, t *time.Time) {
	if t != nil && !licensing.InstantInRange(*t) {
		fe.add(field, licensing.InstantOutOfRange)
	}
}

// limit checks an optional (or required) limit against 0..max and returns it.
func (fe *fieldErrors) limit(field string, v *int64, max int64, required bool) int32 {
	switch {
	case v == nil:
		if required {
			fe.add(field, "is required")
		}
		return 0
	case *v < 0:
		fe.add(field, "must not be negative")
	case *v > max:
		fe.add(field, fmt.Sprintf("must be at most %d", max))
	default:
		return int32(*v)
	}
	return 0
}

func checkTenantID(fe *fieldErrors, id string) {
	switch {
	case id == "":
		fe.add("tenant_id", "is required")
	case !tenantIDPattern.MatchString(id):
		fe.add("tenant_id", "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
}

func checkTenantName(fe *fieldErrors, name string) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		fe.add("tenant_name", "is required")
	case n > 255:
		fe.add("tenant_name", "must be at most 255 characters")
	}
	checkText(fe, "tenant_name", name)
}

func checkReason(fe *fieldErrors, reason string) {
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		fe.add("reason", fmt.Sprintf("must be at most %d characters", MaxReasonLength))
	}
	checkText(fe, "reason", reason)
}

// checkText refuses what PostgreSQL text cannot hold: invalid UTF-8 and NUL.
func checkText(fe *fieldErrors, field, s string) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		fe.add(field, "must be valid UTF-8 without NUL characters")
	}
}
