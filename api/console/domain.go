package console

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// Domain is the Service the app gives the console: the admin service's
// license operations and admin-key check, and the quota service's usage
// figures. It only translates between their types and the console's.
type Domain struct {
	Admin *admin.Service
	Quota *quota.Service
}

var _ Service = Domain{}

// maxEvents bounds the audit trail shown on a license page.
const maxEvents = 500

// parseID turns a path id into a uuid; a malformed one is a license that
// does not exist.
func parseID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, licensing.Errorf(licensing.CodeLicenseNotFound, "no license with id %q", id)
	}
	return u, nil
}

func licenseOf(l db.License) License {
	return License{
		ID:                  l.ID.String(),
		TenantID:            l.TenantID,
		TenantName:          l.TenantName,
		MaxApps:             int(l.MaxApps),
		MaxExecutionsPer24h: int(l.MaxExecutionsPer24h),
		ValidFrom:           l.ValidFrom,
		ValidTo:             l.ValidTo,
		Status:              l.Status,
		EffectiveStatus:     licensing.EffectiveStatus(l.Status, l.ValidFrom, l.ValidTo, time.Now()),
		CreatedAt:           l.CreatedAt,
		UpdatedAt:           l.UpdatedAt,
	}
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

// Authenticate implements Service.
func (d Domain) Authenticate(ctx context.Context, key string) (Admin, error) {
	name, err := d.Admin.Authenticate(ctx, key)
	if err != nil {
		return Admin{}, err
	}
	return Admin{Name: name, Key: key}, nil
}

// List implements Service.
func (d Domain) List(ctx context.Context, f ListFilter) (Page, error) {
	p, err := d.Admin.List(ctx, admin.ListFilter{Status: f.Status, EffectiveStatus: f.EffectiveStatus, Search: f.Tenant, Cursor: f.Cursor, Limit: f.Limit})
	if err != nil {
		return Page{}, err
	}
	ids := make([]uuid.UUID, len(p.Licenses))
	for i, l := range p.Licenses {
		ids[i] = l.ID
	}
	usage, err := d.Quota.UsageOf(ctx, ids)
	if err != nil {
		return Page{}, err
	}
	out := Page{NextCursor: p.NextCursor, Rows: make([]Row, len(p.Licenses))}
	for i, l := range p.Licenses {
		out.Rows[i] = Row{License: licenseOf(l), Usage: usageFrom(usage[l.ID])}
	}
	return out, nil
}

func usageFrom(u quota.Usage) Usage {
	return Usage{AppsUsed: int(u.Apps.Used), ExecutionsUsed: int(u.Executions.Used), NextSlotAt: u.Executions.NextSlotAt}
}

// Get implements Service.
func (d Domain) Get(ctx context.Context, id string) (License, error) {
	u, err := parseID(id)
	if err != nil {
		return License{}, err
	}
	l, err := d.Admin.Get(ctx, u)
	if err != nil {
		return License{}, err
	}
	return licenseOf(l), nil
}

// Usage implements Service.
func (d Domain) Usage(ctx context.Context, id string) (Usage, error) {
	lid, err := parseID(id)
	if err != nil {
		return Usage{}, err
	}
	u, err := d.Quota.Usage(ctx, lid)
	if err != nil {
		return Usage{}, err
	}
	hourly, err := d.Quota.HourlyStarts(ctx, lid)
	if err != nil {
		return Usage{}, err
	}
	out := usageFrom(u)
	out.Hourly = make([]int, len(hourly))
	for i, n := range hourly {
		out.Hourly[i] = int(n)
	}
	return out, nil
}

// Events implements Service.
func (d Domain) Events(ctx context.Context, id string) ([]Event, error) {
	lid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var out []Event
	var after int64
	for len(out) < maxEvents {
		p, err := d.Admin.Events(ctx, lid, after, admin.MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, e := range p.Events {
			ev := Event{ID: e.ID, Actor: e.Actor, Action: e.Action, CreatedAt: e.CreatedAt}
			if e.Reason != nil {
				ev.Reason = *e.Reason
			}
			_ = json.Unmarshal(e.Before, &ev.Before)
			_ = json.Unmarshal(e.After, &ev.After)
			out = append(out, ev)
		}
		if p.NextAfter <= 0 {
			break
		}
		after = p.NextAfter
	}
	return out, nil
}

// Create implements Service.
func (d Domain) Create(ctx context.Context, by Admin, in LicenseInput) (License, Token, error) {
	c, err := d.Admin.Create(ctx, by.Name, admin.CreateInput{
		TenantID:            in.TenantID,
		TenantName:          in.TenantName,
		MaxApps:             int64Ptr(in.MaxApps),
		MaxExecutionsPer24h: int64Ptr(in.MaxExecutionsPer24h),
		ValidFrom:           in.ValidFrom,
		ValidTo:             in.ValidTo,
	})
	if err != nil {
		return License{}, Token{}, err
	}
	return licenseOf(c.License), Token{Token: c.Token.Token, ExpiresAt: c.Token.ExpiresAt}, nil
}

// Update implements Service.
func (d Domain) Update(ctx context.Context, by Admin, id string, in LicenseInput, reason string) (License, error) {
	lid, err := parseID(id)
	if err != nil {
		return License{}, err
	}
	l, err := d.Admin.Update(ctx, by.Name, lid, admin.UpdateInput{
		MaxApps:             int64Ptr(in.MaxApps),
		MaxExecutionsPer24h: int64Ptr(in.MaxExecutionsPer24h),
		ValidFrom:           in.ValidFrom,
		ValidTo:             in.ValidTo,
		Reason:              reason,
	})
	if err != nil {
		return License{}, err
	}
	return licenseOf(l), nil
}

// transition runs one lifecycle operation of the admin service.
func (d Domain) transition(ctx context.Context, op func(context.Context, string, uuid.UUID, string) (db.License, error), by Admin, id, reason string) (License, error) {
	lid, err := parseID(id)
	if err != nil {
		return License{}, err
	}
	l, err := op(ctx, by.Name, lid, reason)
	if err != nil {
		return License{}, err
	}
	return licenseOf(l), nil
}

// Suspend implements Service.
func (d Domain) Suspend(ctx context.Context, by Admin, id, reason string) (License, error) {
	return d.transition(ctx, d.Admin.Suspend, by, id, reason)
}

// Reactivate implements Service.
func (d Domain) Reactivate(ctx context.Context, by Admin, id, reason string) (License, error) {
	return d.transition(ctx, d.Admin.Reactivate, by, id, reason)
}

// Revoke implements Service.
func (d Domain) Revoke(ctx context.Context, by Admin, id, reason string) (License, error) {
	return d.transition(ctx, d.Admin.Revoke, by, id, reason)
}

// IssueToken implements Service.
func (d Domain) IssueToken(ctx context.Context, by Admin, id string, revokePrevious bool) (Token, error) {
	lid, err := parseID(id)
	if err != nil {
		return Token{}, err
	}
	t, err := d.Admin.IssueToken(ctx, by.Name, lid, admin.IssueTokenInput{RevokePrevious: revokePrevious})
	if err != nil {
		return Token{}, err
	}
	return Token{Token: t.Token, ExpiresAt: t.ExpiresAt}, nil
}
