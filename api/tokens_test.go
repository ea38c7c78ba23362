package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/licensing-service/licensing/api"
	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/apitest"
)

func TestJWKSEndpoint(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := env.Do(http.MethodGet, "/.well-known/jwks.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	r.Decode(t, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("jwks: %s", r.Body)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kid"] == "" || k["d"] != "" {
		t.Fatalf("jwk: %v", k)
	}
	// A rotation publishes the new key first, beside the old one.
	kid2, err := env.App.Tokens.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kid1 := k["kid"]
	r = env.Do(http.MethodGet, "/.well-known/jwks.json", "", nil)
	set.Keys = nil
	r.Decode(t, &set)
	if len(set.Keys) != 2 || set.Keys[0]["kid"] != kid2 || set.Keys[1]["kid"] != kid1 {
		t.Fatalf("jwks after rotation: %s", r.Body)
	}

	// No private key in a response or a log line.
	rows, err := env.App.Pool.Query(context.Background(), `SELECT private_key FROM signing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var priv []byte
		if err := rows.Scan(&priv); err != nil {
			t.Fatal(err)
		}
		for _, enc := range []string{base64.RawURLEncoding.EncodeToString(priv[:32]), base64.StdEncoding.EncodeToString(priv[:32])} {
			if strings.Contains(string(r.Body), enc) || strings.Contains(env.Logs.String(), enc) {
				t.Fatalf("a private key leaked")
			}
		}
	}
}

// licenseRoute mounts the license middleware on a route that exists only in
// this test, answering with the license it was given.
func licenseRoute(t *testing.T, env *apitest.Env) string {
	t.Helper()
	env.App.Router.GET("/test-only/license", api.RequireLicense(env.App.Tokens), func(c *gin.Context) {
		lic := api.LicenseFrom(c)
		c.JSON(http.StatusOK, gin.H{"id": lic.ID, "max_apps": lic.MaxApps})
	})
	return env.Server.URL + "/test-only/license"
}

func insertLicense(t *testing.T, env *apitest.Env) db.License {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := env.App.Pool.QueryRow(ctx, `
		INSERT INTO licenses (tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
		VALUES ($1, 'Test tenant', 5, 100, now() - interval '1 day', now() + interval '30 days')
		RETURNING id`, "tenant-"+uuid.NewString()[:8]).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	lic, err := db.New(env.App.Pool).LicenseGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return lic
}

// testRouteDoc is api/openapi.yaml plus the test-only route, documented the
// way a quota endpoint documents itself, so its 401 and 403 answers are
// checked against the reusable components.
var testRouteDoc = strings.Replace(string(api.OpenAPI), "\npaths:\n", `
paths:
  /test-only/license:
    get:
      operationId: testOnlyLicense
      security:
        - licenseToken: []
      responses:
        "200":
          description: The license the token stands for.
          content:
            application/json:
              schema: {type: object, required: [id, max_apps]}
        "401":
          $ref: "#/components/responses/LicenseTokenInvalid"
        "403":
          $ref: "#/components/responses/LicenseForbidden"
`, 1)

var (
	validateOnce       sync.Once
	testRouteValidator validator.Validator
)

type plainResponse struct {
	status int
	header http.Header
	body   map[string]any
}

func getWith(t *testing.T, url, authorization string) plainResponse {
	t.Helper()
	validateOnce.Do(func() { testRouteValidator = apitest.NewValidator(t, []byte(testRouteDoc)) })
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	apitest.CheckResponseWith(t, testRouteValidator, req, resp.StatusCode, resp.Header, raw)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	return plainResponse{resp.StatusCode, resp.Header, body}
}

func TestRequireLicense(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	url := licenseRoute(t, env)
	ctx := context.Background()
	lic := insertLicense(t, env)
	is, err := env.App.Tokens.Issue(ctx, lic, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	for _, auth := range []string{"Bearer " + is.Token, "bearer " + is.Token, "Bearer  " + is.Token + " "} {
		r := getWith(t, url, auth)
		if r.status != http.StatusOK || r.body["id"] != lic.ID.String() || r.body["max_apps"] != float64(5) {
			t.Fatalf("%q: %d %v", auth[:8], r.status, r.body)
		}
	}

	unauthorized := map[string]string{
		"missing":          "",
		"empty bearer":     "Bearer ",
		"basic scheme":     "Basic dXNlcjpwYXNz",
		"token alone":      is.Token,
		"malformed":        "Bearer not-a-token",
		"forged signature": "Bearer " + is.Token[:strings.LastIndex(is.Token, ".")+1] + strings.Repeat("A", 86),
	}
	for name, auth := range unauthorized {
		r := getWith(t, url, auth)
		if r.status != http.StatusUnauthorized || r.body["code"] != "INVALID_TOKEN" || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
		if strings.Contains(env.Logs.String(), is.Token[len(is.Token)-40:]) {
			t.Fatalf("%s: the token was logged", name)
		}
	}

	forbidden := []struct{ change, code, effective string }{
		{`UPDATE licenses SET status = 'SUSPENDED' WHERE id = $1`, "LICENSE_SUSPENDED", "SUSPENDED"},
		{`UPDATE licenses SET status = 'ACTIVE', valid_from = now() + interval '1 hour' WHERE id = $1`, "LICENSE_NOT_YET_VALID", "NOT_YET_VALID"},
		{`UPDATE licenses SET valid_from = now() - interval '2 days', valid_to = now() - interval '1 day' WHERE id = $1`, "LICENSE_EXPIRED", "EXPIRED"},
		{`UPDATE licenses SET status = 'REVOKED' WHERE id = $1`, "LICENSE_REVOKED", "REVOKED"},
	}
	for _, f := range forbidden {
		if _, err := env.App.Pool.Exec(ctx, f.change, lic.ID); err != nil {
			t.Fatal(err)
		}
		r := getWith(t, url, "Bearer "+is.Token)
		if r.status != http.StatusForbidden || r.body["code"] != f.code || r.body["effective_status"] != f.effective ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %v", f.code, r.status, r.body)
		}
	}

	// An old token after the version was raised is a 401.
	lic2 := insertLicense(t, env)
	old, _ := env.App.Tokens.Issue(ctx, lic2, time.Time{})
	if _, err := env.App.Pool.Exec(ctx, `UPDATE licenses SET token_version = token_version + 1 WHERE id = $1`, lic2.ID); err != nil {
		t.Fatal(err)
	}
	if r := getWith(t, url, "Bearer "+old.Token); r.status != http.StatusUnauthorized || r.body["code"] != "INVALID_TOKEN" {
		t.Fatalf("superseded token: %d %v", r.status, r.body)
	}

	// The outcomes are counted (a missing header never reaches Verify).
	metrics := string(env.Do(http.MethodGet, "/metrics", "", nil).Body)
	for _, want := range []string{
		`licensing_token_verifications_total{result="ok"} 3`,
		`licensing_token_verifications_total{result="invalid_token"} 3`,
		`licensing_token_verifications_total{result="license_suspended"} 1`,
		`licensing_token_verifications_total{result="license_revoked"} 1`,
		`licensing_signing_key_reloads_total `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
