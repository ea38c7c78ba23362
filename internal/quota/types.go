package quota

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
)

// WindowSeconds is the length of the sliding execution window.
const WindowSeconds = 86400

// Application is an application as clients see it.
type Application struct {
	ID          uuid.UUID       `json:"id"`
	LicenseID   uuid.UUID       `json:"license_id"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Version     *string         `json:"version"`
	Metadata    json.RawMessage `json:"metadata"`
	IsActive    bool            `json:"is_active"`
	CreatedAt   time.Time       `json:"created_at"`
	DeletedAt   *time.Time      `json:"deleted_at"`
}

func applicationOf(a db.Application) Application {
	return Application{
		ID:          a.ID,
		LicenseID:   a.LicenseID,
		Name:        a.Name,
		Description: a.Description,
		Version:     a.Version,
		Metadata:    jsonOrEmptyObject(a.Metadata),
		IsActive:    a.IsActive,
		CreatedAt:   a.CreatedAt.UTC(),
		DeletedAt:   utcPtr(a.DeletedAt),
	}
}

// Job is a job as clients see it.
type Job struct {
	ID            uuid.UUID       `json:"id"`
	ApplicationID uuid.UUID       `json:"application_id"`
	Name          string          `json:"name"`
	Description   *string         `json:"description"`
	Metadata      json.RawMessage `json:"metadata"`
	Status        string          `json:"status"`
	StartedAt     time.Time       `json:"started_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
	ExecutionTime *float64        `json:"execution_time"`
	Result        json.RawMessage `json:"result"`
	ErrorMessage  *string         `json:"error_message"`
	CPUUsage      *float64        `json:"cpu_usage"`
	MemoryUsage   *float64        `json:"memory_usage"`
}

func jobOf(j db.Job) Job {
	return Job{
		ID:            j.ID,
		ApplicationID: j.ApplicationID,
		Name:          j.Name,
		Description:   j.Description,
		Metadata:      jsonOrEmptyObject(j.Metadata),
		Status:        j.Status,
		StartedAt:     j.StartedAt.UTC(),
		FinishedAt:    utcPtr(j.FinishedAt),
		ExecutionTime: j.ExecutionTime,
		Result:        jsonOrNull(j.Result),
		ErrorMessage:  j.ErrorMessage,
		CPUUsage:      j.CpuUsage,
		MemoryUsage:   j.MemoryUsage,
	}
}

// Usage is a license's usage against its limits.
type Usage struct {
	LicenseID       uuid.UUID      `json:"license_id"`
	TenantID        string         `json:"tenant_id"`
	EffectiveStatus string         `json:"effective_status"`
	Apps            AppUsage       `json:"apps"`
	Executions      ExecutionUsage `json:"executions"`
}

// AppUsage counts active applications against max_apps.
type AppUsage struct {
	Used      int64 `json:"used"`
	Max       int64 `json:"max"`
	Remaining int64 `json:"remaining"`
}

// ExecutionUsage counts the executions in the sliding window against
// max_executions_per_24h. NextSlotAt is when a start will next be admitted:
// nil while one would be admitted now, or never (a limit of 0).
type ExecutionUsage struct {
	WindowSeconds int64      `json:"window_seconds"`
	Used          int64      `json:"used"`
	Max           int64      `json:"max"`
	Remaining     int64      `json:"remaining"`
	NextSlotAt    *time.Time `json:"next_slot_at"`
}

func usageOf(u db.LicenseUsage) Usage {
	return Usage{
		LicenseID:       u.LicenseID,
		TenantID:        u.TenantID,
		EffectiveStatus: u.EffectiveStatus,
		Apps:            AppUsage{Used: u.AppsUsed, Max: int64(u.MaxApps), Remaining: u.AppsRemaining},
		Executions: ExecutionUsage{
			WindowSeconds: WindowSeconds,
			Used:          u.ExecutionsUsed,
			Max:           int64(u.MaxExecutions),
			Remaining:     u.ExecutionsRemaining,
			NextSlotAt:    utcPtr(u.NextSlotAt),
		},
	}
}

// RegisterRequest is the body of POST /api/apps/register.
type RegisterRequest struct {
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Version     *string         `json:"version"`
	Metadata    json.RawMessage `json:"metadata"`
}

// StartRequest is the body of POST /api/jobs/start.
type StartRequest struct {
	ApplicationID string          `json:"application_id"`
	Name          string          `json:"name"`
	Description   *string         `json:"description"`
	Metadata      json.RawMessage `json:"metadata"`
}

// FinishRequest is the body of POST /api/jobs/finish.
type FinishRequest struct {
	JobID        string          `json:"job_id"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	ErrorMessage *string         `json:"error_message"`
	CPUUsage     *float64        `json:"cpu_usage"`
	MemoryUsage  *float64        `json:"memory_usage"`
}

// Limits of the text fields, as the schema's CHECK constraints have them.
const (
	maxNameLen        = 255
	maxVersionLen     = 255
	maxDescriptionLen = 10000
	maxErrorLen       = 10000
	maxKeyLen         = 255
)

// fieldChecker collects the per-field errors of one request.
type fieldChecker struct{ errs []licensing.FieldError }

func (c *fieldChecker) add(field, msg string) {
	c.errs = append(c.errs, licensing.FieldError{Field: field, Message: msg})
}

func (c *fieldChecker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return licensing.Invalid(c.errs...)
}

// text checks a string field: valid UTF-8 without NUL (PostgreSQL text
// cannot hold it), at most max characters, and not blank when required.
func (c *fieldChecker) text(field string, v *string, required bool, max int) {
	if v == nil {
		if required {
			c.add(field, "is required")
		}
		return
	}
	s := *v
	switch {
	case required && strings.TrimSpace(s) == "":
		c.add(field, "is required and must not be blank")
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		c.add(field, "must be valid UTF-8 text without NUL characters")
	case utf8.RuneCountInString(s) > max:
		c.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// uuidField parses a required id field.
func (c *fieldChecker) uuidField(field, v string) uuid.UUID {
	if strings.TrimSpace(v) == "" {
		c.add(field, "is required")
		return uuid.Nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		c.add(field, "must be a UUID")
		return uuid.Nil
	}
	return id
}

// jsonValue normalizes a JSON field: absent or null gives nil; anything
// else is re-encoded canonically (object keys sorted, numbers kept exact).
// With object set, only a JSON object is accepted. Strings holding NUL are
// refused: jsonb cannot store them.
// MaxJSONValueBytes bounds a metadata or result value as sent: room for any
// honest use, and no way to make every listing of a license megabytes long.
const MaxJSONValueBytes = 64 << 10

func (c *fieldChecker) jsonValue(field string, raw json.RawMessage, object bool) []byte {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	if len(raw) > MaxJSONValueBytes {
		c.add(field, fmt.Sprintf("must be at most %d bytes of JSON", MaxJSONValueBytes))
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		c.add(field, "must be valid JSON")
		return nil
	}
	if _, ok := v.(map[string]any); object && !ok {
		c.add(field, "must be a JSON object")
		return nil
	}
	if hasNUL(v) {
		c.add(field, "must not contain NUL characters")
		return nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		c.add(field, "must be valid JSON")
		return nil
	}
	return out
}

func hasNUL(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.ContainsRune(t, 0)
	case map[string]any:
		for k, e := range t {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func jsonOrEmptyObject(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return json.RawMessage(b)
}

func jsonOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
