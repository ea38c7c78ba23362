// Package apitest runs the whole service against a fresh PostgreSQL database
// in tests, and checks every response against api/openapi.yaml.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/licensing-service/licensing/api"
	"github.com/licensing-service/licensing/internal/app"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/pgtest"
)

var (
	specOnce sync.Once
	spec     validator.Validator
	specErr  error
)

// Validator returns the validator of api/openapi.yaml, built once.
func Validator(t testing.TB) validator.Validator {
	t.Helper()
	specOnce.Do(func() { spec, specErr = buildValidator(api.OpenAPI) })
	if specErr != nil {
		t.Fatalf("apitest: api/openapi.yaml: %v", specErr)
	}
	return spec
}

// NewValidator builds a validator for another OpenAPI document, such as
// api/openapi.yaml plus a route that exists only in a test.
func NewValidator(t testing.TB, doc []byte) validator.Validator {
	t.Helper()
	v, err := buildValidator(doc)
	if err != nil {
		t.Fatalf("apitest: OpenAPI document: %v", err)
	}
	return v
}

func buildValidator(doc []byte) (validator.Validator, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return v, nil
}

// Env is the service running on its own fresh database.
type Env struct {
	T      testing.TB
	App    *app.App
	Server *httptest.Server
	// AdminToken is the admin bearer token the app accepts.
	AdminToken string
	DBURL      string
	// Owner is a pool on the test database as its owner, which row-level
	// security does not restrict: for tests that arrange or inspect rows
	// behind the service's back (the app's own pool works as licensing_app).
	Owner *pgxpool.Pool
	// Logs holds everything the app logged (for tests that search it).
	Logs *SyncBuffer
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Option changes the configuration of a New Env.
type Option func(*config.Config)

// New starts the service on a fresh migrated database behind an
// httptest.Server. It is closed after the test.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.AdminToken = "test-admin-token-0123456789abcdef"
	// Small pools: many tests run at once on one test cluster.
	cfg.PoolSize = 4
	// Tests of wrong admin keys try many; the limiter's own test lowers it.
	cfg.AdminAuthMaxFailures = 1000
	for _, o := range opts {
		o(&cfg)
	}
	// The pool is built as cmd/licensingd builds it (size, timeouts).
	pool, err := app.NewPool(context.Background(), pgtest.NewDatabase(t), cfg)
	if err != nil {
		t.Fatalf("apitest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	logs := &SyncBuffer{}
	var w io.Writer = logs
	if os.Getenv("APITEST_LOG") != "" {
		w = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), pool, cfg, log)
	if err != nil {
		t.Fatalf("apitest: app: %v", err)
	}
	srv := httptest.NewServer(a.Router)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	dbURL := pool.Config().ConnString()
	owner, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("apitest: owner pool: %v", err)
	}
	t.Cleanup(owner.Close)
	return &Env{T: t, App: a, Server: srv, AdminToken: cfg.AdminToken, DBURL: dbURL, Owner: owner, Logs: logs}
}

// Response is a checked response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("apitest: body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into dst.
func (r Response) Decode(t testing.TB, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, dst); err != nil {
		t.Fatalf("apitest: decode: %v: %s", err, r.Body)
	}
}

// Do sends a request with a bearer token (when not empty) and a JSON body
// (when not nil: a string or []byte is sent as is, anything else is
// marshalled), checks the response against the OpenAPI document, and
// returns it. headers are extra header name/value pairs.
func (e *Env) Do(method, path, bearer string, body any, headers ...string) Response {
	e.T.Helper()
	return Do(e.T, e.Server.URL, method, path, bearer, body, headers...)
}

// Do is Env.Do for any base URL.
func Do(t testing.TB, base, method, path, bearer string, body any, headers ...string) Response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatalf("apitest: marshal: %v", err)
		}
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("apitest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apitest: read: %v", err)
	}
	CheckResponse(t, req, resp.StatusCode, resp.Header, data)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// CheckResponse fails the test when the response does not match the
// operation's documented responses in api/openapi.yaml.
func CheckResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	CheckResponseWith(t, Validator(t), req, status, header, body)
}

// CheckResponseWith is CheckResponse against the document of v.
func CheckResponseWith(t testing.TB, v validator.Validator, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	// The validator matches paths against the document's servers.
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host, vreq.Host = "http", "localhost:8080", "localhost:8080"
	resp := &http.Response{
		StatusCode: status,
		Header:     header,
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    vreq,
	}
	if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
		// An undocumented path must answer with a problem detail (404/405).
		if len(errs) == 1 && errs[0].ValidationType == "path" && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
			if header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("apitest: %s %s -> %d is not a problem detail", req.Method, req.URL.Path, status)
			}
			return
		}
		var msgs []string
		for _, e := range errs {
			m := e.Message
			if e.Reason != "" {
				m += ": " + e.Reason
			}
			for _, se := range e.SchemaValidationErrors {
				m += " [" + se.FieldPath + ": " + se.Reason + "]"
			}
			msgs = append(msgs, m)
		}
		t.Errorf("apitest: %s %s -> %d does not match the OpenAPI document:\n  %s\n  body: %.500s",
			req.Method, req.URL.Path, status, strings.Join(msgs, "\n  "), body)
	}
}
