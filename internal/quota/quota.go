// Package quota enforces a license's limits: the applications it registers
// (max_apps) and the jobs it starts in any sliding 24 hours
// (max_executions_per_24h). Every decision is taken by PostgreSQL in one READ
// COMMITTED transaction that locks the license row first (queries/quota.sql)
// and then decides and records in one statement (queries/jobs.sql,
// queries/applications.sql); this package runs those transactions, keeps the
// Idempotency-Key responses in the same transaction as the effect, and turns
// refusals into licensing.Errors. The README's "How the quota decision works"
// explains why the result is exact under any concurrency.
package quota

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/postgres"
)

// Service runs the quota decisions and the reads of applications, jobs and
// usage. It is safe for concurrent use.
type Service struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	decisions *prometheus.CounterVec
	pruned    prometheus.Counter
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, log: log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensing_quota_decisions_total",
			Help: "Quota decisions by operation (apps/register, apps/delete, jobs/start, jobs/finish) and result: ok, replayed, or the lower-cased error code (execution_quota_exceeded, app_limit_reached, ...).",
		}, []string{"operation", "result"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensing_jobs_pruned_total",
			Help: "Jobs deleted by this server's pruner (pg_cron's runs are not counted here).",
		}),
	}
}

// Collectors returns the Service's Prometheus figures, for the app's
// registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.decisions, s.pruned}
}

// RateLimit is one quota policy's state after a decision, for the IETF
// RateLimit-Policy and RateLimit fields.
type RateLimit struct {
	// Policy is the policy's name: "executions" or "apps".
	Policy string
	// Quota is the limit (q); Window its window in seconds (w), 0 for none.
	Quota  int64
	Window int64
	// Remaining is what is left now (r); Reset the seconds until a unit
	// frees (t): 0 while some remain, a day when none ever will (limit 0).
	Remaining int64
	Reset     int64
}

// Outcome is the response of a quota operation: the HTTP status and JSON
// body of its success, stored under the Idempotency-Key and replayed as is.
type Outcome struct {
	Status int
	Body   json.RawMessage
	// Replayed is true when the response was stored by an earlier request
	// with the same Idempotency-Key (nothing was done again).
	Replayed bool
	// Limit, when not nil, is the policy state for the RateLimit fields; it
	// is also set when the operation was refused.
	Limit *RateLimit
}

// operation is one kind of quota decision: its name (part of the
// Idempotency-Key request hash and of the metrics), how it locks the
// license row, and the RateLimit policy it reports ("" for none).
type operation struct {
	name   string
	shared bool
	policy string
}

var (
	// Registrations, starts and deletions change what is counted: they
	// take the row lock exclusively and run one at a time per license.
	opRegister = operation{name: "apps/register", policy: "apps"}
	opStart    = operation{name: "jobs/start", policy: "executions"}
	opDelete   = operation{name: "apps/delete"}
	// Finishes change no count: they share the lock with each other, and
	// exclude only changes of the license row (suspend, revoke, ...).
	opFinish = operation{name: "jobs/finish", shared: true}
)

// checkKey validates an Idempotency-Key header ("" means none).
func checkKey(key string) error {
	if key == "" {
		return nil
	}
	ok := len(key) <= maxKeyLen
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x20 && key[i] < 0x7f
	}
	if !ok {
		return licensing.Invalid(licensing.FieldError{
			Field:   "Idempotency-Key",
			Message: "must be 1 to 255 printable ASCII characters",
		})
	}
	return nil
}

// requestHash identifies an operation and its normalized body.
func requestHash(op operation, normalized any) []byte {
	b, _ := json.Marshal(normalized)
	h := sha256.New()
	h.Write([]byte(op.name))
	h.Write([]byte{'\n'})
	h.Write(b)
	return h.Sum(nil)
}

// decide runs one quota decision: it locks the license row, answers a
// replayed Idempotency-Key from the stored response, runs fn, and stores
// fn's success under the key, all in one READ COMMITTED transaction.
// A replay carries the current state of the operation's policy in its Limit.
func (s *Service) decide(ctx context.Context, op operation, licenseID uuid.UUID, key string, hash []byte,
	fn func(q *db.Queries) (Outcome, error)) (Outcome, error) {
	out, err := s.decideTx(ctx, op, licenseID, key, hash, fn)
	result := "ok"
	switch {
	case err != nil:
		result = strings.ToLower(string(licensing.ErrorCode(err)))
	case out.Replayed:
		result = "replayed"
	}
	s.decisions.WithLabelValues(op.name, result).Inc()
	return out, err
}

func (s *Service) decideTx(ctx context.Context, op operation, licenseID uuid.UUID, key string, hash []byte,
	fn func(q *db.Queries) (Outcome, error)) (Outcome, error) {
	var out Outcome
	err := postgres.WithLicenseTx(ctx, s.pool, licenseID, func(q *db.Queries) error {
		var effective string
		switch {
		case op.shared:
			l, err := q.LicenseLockSharedForQuota(ctx, licenseID)
			if err != nil {
				return licenseErr(err)
			}
			effective = l.EffectiveStatus
		default:
			l, err := q.LicenseLockForQuota(ctx, licenseID)
			if err != nil {
				return licenseErr(err)
			}
			effective = l.EffectiveStatus
		}
		// Refuse early; the deciding statement checks again at its own clock.
		if err := licensing.StatusError(effective); err != nil {
			return err
		}
		if key != "" {
			stored, err := q.IdempotencyKeyGet(ctx, db.IdempotencyKeyGetParams{LicenseID: licenseID, Key: key})
			switch {
			case err == nil:
				if !bytes.Equal(stored.RequestHash, hash) {
					return licensing.Errorf(licensing.CodeIdempotencyReused,
						"this Idempotency-Key was used with another request in the last 24 hours")
				}
				out = Outcome{Status: int(stored.ResponseStatus), Body: stored.ResponseBody, Replayed: true}
				if op.policy != "" {
					u, err := q.LicenseUsageGet(ctx, licenseID)
					if err != nil {
						return err
					}
					out.Limit = limitOf(op.policy, u)
				}
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		o, err := fn(q)
		out = o
		if err != nil {
			return err
		}
		if key != "" {
			return q.IdempotencyKeyStore(ctx, db.IdempotencyKeyStoreParams{
				LicenseID:      licenseID,
				Key:            key,
				RequestHash:    hash,
				ResponseStatus: int32(o.Status),
				ResponseBody:   o.Body,
			})
		}
		return nil
	})
	if err != nil {
		return out, s.translate(ctx, err)
	}
	return out, nil
}

// read runs fn in a transaction working for licenseID, so that row-level
// security (migration 000004) shows it that license's rows only. Errors
// come back untranslated (pgx.ErrNoRows stays recognisable).
func (s *Service) read(ctx context.Context, licenseID uuid.UUID, fn func(q *db.Queries) error) error {
	var inner error
	err := postgres.WithLicenseTx(ctx, s.pool, licenseID, func(q *db.Queries) error {
		inner = fn(q)
		return inner
	})
	if inner != nil {
		return inner
	}
	return err
}

// translate maps the constraint violations that the lock makes impossible
// (they are the schema's backstops) to clean errors, and logs them.
func (s *Service) translate(ctx context.Context, err error) error {
	switch postgres.ConstraintName(err) {
	case "applications_active_name_key":
		return &licensing.Error{Code: licensing.CodeAppNameTaken, Message: "an active application of this license already has that name", Err: err}
	case "jobs_license_seq_key":
		s.log.ErrorContext(ctx, "quota: two starts computed the same sequence number; refused one", "err", err)
		return &licensing.Error{Code: licensing.CodeUnavailable, Message: "the start could not be decided; retry", RetryAfterSeconds: 1, Err: err}
	}
	if postgres.SQLState(err) == "23503" { // foreign_key_violation: the license vanished
		return &licensing.Error{Code: licensing.CodeLicenseNotFound, Message: "license not found", Err: err}
	}
	return postgres.Translate(err)
}

func licenseErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return &licensing.Error{Code: licensing.CodeLicenseNotFound, Message: "license not found", Err: err}
	}
	return err
}

func marshal(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, licensing.Internal(err)
	}
	return b, nil
}

// limitOf is the current state of a policy, from the license_usage view.
func limitOf(policy string, u db.LicenseUsage) *RateLimit {
	if policy == "apps" {
		return &RateLimit{Policy: policy, Quota: int64(u.MaxApps), Remaining: u.AppsRemaining}
	}
	l := &RateLimit{Policy: policy, Quota: int64(u.MaxExecutions), Window: WindowSeconds, Remaining: u.ExecutionsRemaining}
	switch {
	case l.Remaining > 0:
	case u.NextSlotAt != nil:
		l.Reset = ceilSeconds(u.NextSlotAt.Sub(u.At))
	default:
		l.Reset = WindowSeconds
	}
	return l
}

// ceilSeconds is d in whole seconds, rounded up, at least 1.
func ceilSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// RegisterApp registers an application for the license, if the license may
// operate, the name is free among its active applications and fewer than
// max_apps are active. The Outcome (201 and the Application) carries the
// "apps" RateLimit, on refusals too. Errors: VALIDATION_FAILED,
// APP_NAME_TAKEN, APP_LIMIT_REACHED (max_apps, current_count),
// IDEMPOTENCY_KEY_REUSED, the LICENSE_* refusals, SERVICE_UNAVAILABLE.
func (s *Service) RegisterApp(ctx context.Context, licenseID uuid.UUID, key string, req RegisterRequest) (Outcome, error) {
	var c fieldChecker
	c.text("name", &req.Name, true, maxNameLen)
	c.text("description", req.Description, false, maxDescriptionLen)
	c.text("version", req.Version, false, maxVersionLen)
	metadata := c.jsonValue("metadata", req.Metadata, true)
	if err := c.err(); err != nil {
		return Outcome{}, err
	}
	if err := checkKey(key); err != nil {
		return Outcome{}, err
	}
	if metadata == nil {
		metadata = []byte("{}")
	}
	req.Metadata = metadata
	hash := requestHash(opRegister, req)

	return s.decide(ctx, opRegister, licenseID, key, hash, func(q *db.Queries) (Outcome, error) {
		r, err := q.ApplicationRegister(ctx, db.ApplicationRegisterParams{
			LicenseID:   licenseID,
			Name:        req.Name,
			Description: req.Description,
			Version:     req.Version,
			Metadata:    metadata,
		})
		if err != nil {
			return Outcome{}, err
		}
		if err := licensing.StatusError(r.EffectiveStatus); err != nil {
			return Outcome{}, err
		}
		used := r.Used
		if r.ID != nil {
			used++
		}
		limit := &RateLimit{Policy: "apps", Quota: int64(r.MaxApps), Remaining: max(int64(r.MaxApps)-used, 0)}
		if r.NameTaken {
			return Outcome{Limit: limit}, licensing.Errorf(licensing.CodeAppNameTaken,
				"an active application of this license is already named %q", req.Name)
		}
		if r.ID == nil {
			return Outcome{Limit: limit}, &licensing.Error{
				Code:    licensing.CodeAppLimitReached,
				Message: "the license allows no more applications",
				Extra:   map[string]any{"max_apps": r.MaxApps, "current_count": r.Used},
			}
		}
		body, err := marshal(applicationOf(db.Application{
			ID:          *r.ID,
			LicenseID:   *r.LicenseID,
			Name:        *r.Name,
			Description: r.Description,
			Version:     r.Version,
			Metadata:    r.Metadata,
			IsActive:    *r.IsActive,
			CreatedAt:   *r.CreatedAt,
			DeletedAt:   r.DeletedAt,
		}))
		return Outcome{Status: http.StatusCreated, Body: body, Limit: limit}, err
	})
}

// StartJob starts a job of one of the license's active applications, if the
// license may operate and fewer than max_executions_per_24h jobs started in
// the last 24 hours. The Outcome (201 and the Job) carries the "executions"
// RateLimit, on refusals too. Errors: VALIDATION_FAILED, APP_NOT_FOUND,
// EXECUTION_QUOTA_EXCEEDED (max_executions_per_24h, current_count,
// retry_after_seconds, next_slot_at; RetryAfterSeconds set),
// IDEMPOTENCY_KEY_REUSED, the LICENSE_* refusals, SERVICE_UNAVAILABLE.
func (s *Service) StartJob(ctx context.Context, licenseID uuid.UUID, key string, req StartRequest) (Outcome, error) {
	var c fieldChecker
	appID := c.uuidField("application_id", req.ApplicationID)
	c.text("name", &req.Name, true, maxNameLen)
	c.text("description", req.Description, false, maxDescriptionLen)
	metadata := c.jsonValue("metadata", req.Metadata, true)
	if err := c.err(); err != nil {
		return Outcome{}, err
	}
	if err := checkKey(key); err != nil {
		return Outcome{}, err
	}
	if metadata == nil {
		metadata = []byte("{}")
	}
	req.Metadata = metadata
	req.ApplicationID = appID.String()
	hash := requestHash(opStart, req)

	return s.decide(ctx, opStart, licenseID, key, hash, func(q *db.Queries) (Outcome, error) {
		r, err := q.JobStart(ctx, db.JobStartParams{
			LicenseID:     licenseID,
			ApplicationID: appID,
			Name:          req.Name,
			Description:   req.Description,
			Metadata:      metadata,
		})
		if err != nil {
			return Outcome{}, err
		}
		if err := licensing.StatusError(r.EffectiveStatus); err != nil {
			return Outcome{}, err
		}
		if !r.AppFound {
			return Outcome{}, licensing.Errorf(licensing.CodeAppNotFound, "no active application %s in this license", appID)
		}
		limit := &RateLimit{
			Policy:    "executions",
			Quota:     int64(r.MaxExecutions),
			Window:    WindowSeconds,
			Remaining: max(int64(r.MaxExecutions)-r.UsedAfter, 0),
		}
		var retryAfter int64
		switch {
		case r.NextSlotAt != nil:
			retryAfter = ceilSeconds(r.NextSlotAt.Sub(r.DecidedAt))
		case r.MaxExecutions <= 0:
			// No slot will ever free up: only an upgrade helps.
			retryAfter = WindowSeconds
		}
		if limit.Remaining == 0 {
			limit.Reset = retryAfter
		}
		if !r.Admitted {
			extra := map[string]any{
				"max_executions_per_24h": r.MaxExecutions,
				"current_count":          r.Used,
				"retry_after_seconds":    retryAfter,
				"next_slot_at":           nil,
			}
			if r.NextSlotAt != nil {
				extra["next_slot_at"] = r.NextSlotAt.UTC()
			}
			return Outcome{Limit: limit}, &licensing.Error{
				Code:              licensing.CodeQuotaExceeded,
				Message:           "the license's executions in the last 24 hours are used up",
				Extra:             extra,
				RetryAfterSeconds: retryAfter,
			}
		}
		body, err := marshal(jobOf(db.Job{
			ID:            *r.ID,
			LicenseID:     *r.LicenseID,
			ApplicationID: *r.ApplicationID,
			Seq:           *r.Seq,
			Name:          *r.Name,
			Description:   r.Description,
			Metadata:      r.Metadata,
			Status:        *r.Status,
			StartedAt:     *r.StartedAt,
			FinishedAt:    r.FinishedAt,
			ExecutionTime: r.ExecutionTime,
			Result:        r.Result,
			ErrorMessage:  r.ErrorMessage,
			CpuUsage:      r.CpuUsage,
			MemoryUsage:   r.MemoryUsage,
		}))
		return Outcome{Status: http.StatusCreated, Body: body, Limit: limit}, err
	})
}

// FinishJob records the outcome of one of the license's RUNNING jobs. The
// same finish repeated (same status, result, error_message, cpu_usage and
// memory_usage) answers 200 with the job again; another outcome for a
// finished job is JOB_NOT_RUNNING. Errors: VALIDATION_FAILED, JOB_NOT_FOUND,
// JOB_NOT_RUNNING, IDEMPOTENCY_KEY_REUSED, the LICENSE_* refusals.
func (s *Service) FinishJob(ctx context.Context, licenseID uuid.UUID, key string, req FinishRequest) (Outcome, error) {
	var c fieldChecker
	jobID := c.uuidField("job_id", req.JobID)
	if req.Status == "" {
		req.Status = "COMPLETED"
	}
	if req.Status != "COMPLETED" && req.Status != "FAILED" {
		c.add("status", "must be COMPLETED or FAILED")
	}
	result := c.jsonValue("result", req.Result, false)
	c.text("error_message", req.ErrorMessage, false, maxErrorLen)
	if req.CPUUsage != nil && (*req.CPUUsage < 0 || *req.CPUUsage > 100) {
		c.add("cpu_usage", "must be from 0 to 100")
	}
	if req.MemoryUsage != nil && *req.MemoryUsage < 0 {
		c.add("memory_usage", "must be 0 or more")
	}
	if err := c.err(); err != nil {
		return Outcome{}, err
	}
	if err := checkKey(key); err != nil {
		return Outcome{}, err
	}
	req.Result = result
	req.JobID = jobID.String()
	hash := requestHash(opFinish, req)

	return s.decide(ctx, opFinish, licenseID, key, hash, func(q *db.Queries) (Outcome, error) {
		r, err := q.JobFinish(ctx, db.JobFinishParams{
			LicenseID:    licenseID,
			ID:           jobID,
			Status:       req.Status,
			Result:       result,
			ErrorMessage: req.ErrorMessage,
			CpuUsage:     req.CPUUsage,
			MemoryUsage:  req.MemoryUsage,
		})
		if err != nil {
			return Outcome{}, err
		}
		if err := licensing.StatusError(r.EffectiveStatus); err != nil {
			return Outcome{}, err
		}
		// Read back in a statement of its own: it sees this finish, or the
		// one JobFinish waited for; unknown and other tenants' jobs are absent.
		g, err := q.JobGetForFinish(ctx, db.JobGetForFinishParams{
			ID:           jobID,
			LicenseID:    licenseID,
			Status:       req.Status,
			Result:       result,
			ErrorMessage: req.ErrorMessage,
			CpuUsage:     req.CPUUsage,
			MemoryUsage:  req.MemoryUsage,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return Outcome{}, licensing.Errorf(licensing.CodeJobNotFound, "no job %s in this license", jobID)
		}
		if err != nil {
			return Outcome{}, err
		}
		if !g.SameOutcome || g.Job.Status == "RUNNING" {
			return Outcome{}, &licensing.Error{
				Code:    licensing.CodeJobNotRunning,
				Message: "the job was already finished with another outcome",
				Extra:   map[string]any{"job_status": g.Job.Status},
			}
		}
		body, err := marshal(jobOf(g.Job))
		return Outcome{Status: http.StatusOK, Body: body}, err
	})
}

// DeleteApp unregisters one of the license's applications: it stops
// counting against max_apps; its jobs stay. Deleting an already deleted
// application succeeds. Errors: APP_NOT_FOUND, the LICENSE_* refusals.
func (s *Service) DeleteApp(ctx context.Context, licenseID, appID uuid.UUID) error {
	_, err := s.decide(ctx, opDelete, licenseID, "", nil, func(q *db.Queries) (Outcome, error) {
		r, err := q.ApplicationDelete(ctx, db.ApplicationDeleteParams{ID: appID, LicenseID: licenseID})
		if err != nil {
			return Outcome{}, err
		}
		if err := licensing.StatusError(r.EffectiveStatus); err != nil {
			return Outcome{}, err
		}
		if !r.Found {
			return Outcome{}, licensing.Errorf(licensing.CodeAppNotFound, "no application %s in this license", appID)
		}
		return Outcome{Status: http.StatusNoContent}, nil
	})
	return err
}

// GetApp reads one of the license's applications (deleted ones too).
// Errors: APP_NOT_FOUND.
func (s *Service) GetApp(ctx context.Context, licenseID, appID uuid.UUID) (Application, error) {
	var a db.Application
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		a, err = q.ApplicationGet(ctx, db.ApplicationGetParams{ID: appID, LicenseID: licenseID})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Application{}, licensing.Errorf(licensing.CodeAppNotFound, "no application %s in this license", appID)
	}
	if err != nil {
		return Application{}, postgres.Translate(err)
	}
	return applicationOf(a), nil
}

// AppList is one page of applications; NextCursor is empty on the last.
type AppList struct {
	Items      []Application `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// AppListOptions filter and page ListApps.
type AppListOptions struct {
	IncludeDeleted bool
	Cursor         string
	Limit          int
}

// ListApps pages through the license's applications, oldest first.
// Errors: VALIDATION_FAILED for a bad cursor.
func (s *Service) ListApps(ctx context.Context, licenseID uuid.UUID, o AppListOptions) (AppList, error) {
	p := db.ApplicationListParams{LicenseID: licenseID, IncludeDeleted: o.IncludeDeleted, RowLimit: int32(pageLimit(o.Limit)) + 1}
	if o.Cursor != "" {
		at, id, err := decodeAppCursor(o.Cursor)
		if err != nil {
			return AppList{}, err
		}
		p.AfterCreatedAt, p.AfterID = &at, id
	}
	var rows []db.Application
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		rows, err = q.ApplicationList(ctx, p)
		return err
	})
	if err != nil {
		return AppList{}, postgres.Translate(err)
	}
	items, next := page(rows, int(p.RowLimit)-1, applicationOf, func(a db.Application) string {
		return encodeAppCursor(a.CreatedAt, a.ID)
	})
	return AppList{Items: items, NextCursor: next}, nil
}

// GetJob reads one of the license's jobs. Errors: JOB_NOT_FOUND.
func (s *Service) GetJob(ctx context.Context, licenseID, jobID uuid.UUID) (Job, error) {
	var j db.Job
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		j, err = q.JobGet(ctx, db.JobGetParams{ID: jobID, LicenseID: licenseID})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, licensing.Errorf(licensing.CodeJobNotFound, "no job %s in this license", jobID)
	}
	if err != nil {
		return Job{}, postgres.Translate(err)
	}
	return jobOf(j), nil
}

// JobList is one page of jobs; NextCursor is nil on the last.
type JobList struct {
	Items      []Job   `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// JobListOptions filter and page ListJobs. Empty fields do not filter.
type JobListOptions struct {
	Status        string
	ApplicationID string
	Since         string
	Cursor        string
	Limit         int
	// Refused are parameters the caller already refused (a malformed
	// limit, say); ListJobs reports them together with its own findings.
	Refused []licensing.FieldError
}

// ListJobs pages through the license's jobs, newest first. Errors:
// VALIDATION_FAILED for a bad filter or cursor.
func (s *Service) ListJobs(ctx context.Context, licenseID uuid.UUID, o JobListOptions) (JobList, error) {
	c := fieldChecker{errs: slices.Clone(o.Refused)}
	p := db.JobListParams{LicenseID: licenseID, RowLimit: int32(pageLimit(o.Limit)) + 1}
	if o.Status != "" {
		st := strings.ToUpper(o.Status)
		if st != "RUNNING" && st != "COMPLETED" && st != "FAILED" {
			c.add("status", "must be RUNNING, COMPLETED or FAILED")
		}
		p.Status = &st
	}
	if o.ApplicationID != "" {
		id := c.uuidField("application_id", o.ApplicationID)
		p.ApplicationID = &id
	}
	if o.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, o.Since)
		switch {
		case err != nil:
			c.add("since", "must be an RFC 3339 time")
		case !licensing.InstantInRange(t):
			c.add("since", licensing.InstantOutOfRange)
		}
		p.Since = &t
	}
	if o.Cursor != "" {
		seq, err := decodeJobCursor(o.Cursor)
		if err != nil {
			c.add("cursor", "is not a cursor this service returned")
		}
		p.BeforeSeq = &seq
	}
	if err := c.err(); err != nil {
		return JobList{}, err
	}
	var rows []db.Job
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		rows, err = q.JobList(ctx, p)
		return err
	})
	if err != nil {
		return JobList{}, postgres.Translate(err)
	}
	items, next := page(rows, int(p.RowLimit)-1, jobOf, func(j db.Job) string { return encodeJobCursor(j.Seq) })
	return JobList{Items: items, NextCursor: next}, nil
}

// Usage reports the license's usage against its limits. Errors:
// LICENSE_NOT_FOUND.
func (s *Service) Usage(ctx context.Context, licenseID uuid.UUID) (Usage, error) {
	var u db.LicenseUsage
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		u, err = q.LicenseUsageGet(ctx, licenseID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Usage{}, licensing.Errorf(licensing.CodeLicenseNotFound, "no license %s", licenseID)
	}
	if err != nil {
		return Usage{}, postgres.Translate(err)
	}
	return usageOf(u), nil
}
