package tokens_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/tokens"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var testConfig = tokens.Config{Issuer: "test-issuer", Audience: "test-audience", TTL: time.Hour}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newLicense inserts an ACTIVE license valid from yesterday for 30 days.
func newLicense(t *testing.T, pool *pgxpool.Pool) db.License {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := pool.QueryRow(ctx, `
		INSERT INTO licenses (tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
		VALUES ($1, 'Test tenant', 3, 100, now() - interval '1 day', now() + interval '30 days')
		RETURNING id`, "tenant-"+uuid.NewString()[:8]).Scan(&id)
	if err != nil {
		t.Fatalf("insert license: %v", err)
	}
	lic, err := db.New(pool).LicenseGet(ctx, id)
	if err != nil {
		t.Fatalf("read license: %v", err)
	}
	return lic
}

// setup gives a test its own database, a Service on it and a license.
func setup(t *testing.T, cfg tokens.Config) (*pgxpool.Pool, *tokens.Service, db.License) {
	t.Helper()
	pool := pgtest.NewPool(t)
	s := tokens.New(pool, cfg, quietLog())
	return pool, s, newLicense(t, pool)
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func issue(t *testing.T, s *tokens.Service, lic db.License) tokens.Issued {
	t.Helper()
	is, err := s.Issue(context.Background(), lic, time.Time{})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	return is
}

func mustVerify(t *testing.T, s *tokens.Service, raw string) (db.License, *tokens.Claims) {
	t.Helper()
	lic, claims, err := s.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return lic, claims
}

func wantRefused(t *testing.T, s *tokens.Service, raw string, code licensing.Code) {
	t.Helper()
	lic, claims, err := s.Verify(context.Background(), raw)
	if err == nil {
		t.Fatalf("verify accepted the token (license %s, claims %+v), want %s", lic.ID, claims, code)
	}
	var le *licensing.Error
	if !errors.As(err, &le) {
		t.Fatalf("verify error %T %v is not a *licensing.Error", err, err)
	}
	if le.Code != code {
		t.Fatalf("verify error %v, want code %s", err, code)
	}
}

// goodClaims are the claims Issue would make for lic.
func goodClaims(lic db.License) *tokens.Claims {
	now := time.Now()
	return &tokens.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testConfig.Issuer,
			Subject:   lic.ID.String(),
			Audience:  jwt.ClaimStrings{testConfig.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		TenantID:            lic.TenantID,
		Status:              lic.Status,
		ValidFrom:           lic.ValidFrom,
		ValidTo:             lic.ValidTo,
		MaxApps:             lic.MaxApps,
		MaxExecutionsPer24h: lic.MaxExecutionsPer24h,
		Version:             lic.TokenVersion,
	}
}

func signed(t *testing.T, s *tokens.Service, claims jwt.Claims, header map[string]any) string {
	t.Helper()
	raw, err := s.SignForTest(context.Background(), claims, header)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("segment: %v", err)
	}
	return m
}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	_, s, lic := setup(t, testConfig)
	is := issue(t, s, lic)

	parts := strings.Split(is.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	header := decodeSegment(t, parts[0])
	if header["alg"] != "EdDSA" || header["typ"] != "license+jwt" || header["kid"] != is.KeyID || is.KeyID == "" {
		t.Fatalf("header %v (issued kid %q)", header, is.KeyID)
	}
	payload := decodeSegment(t, parts[1])
	for _, name := range []string{"iss", "aud", "sub", "jti", "iat", "nbf", "exp", "tenant_id", "status",
		"valid_from", "valid_to", "max_apps", "max_executions_per_24h", "ver"} {
		if _, ok := payload[name]; !ok {
			t.Errorf("claim %s missing from %v", name, payload)
		}
	}
	if payload["sub"] != lic.ID.String() || payload["jti"] != is.ID || payload["tenant_id"] != lic.TenantID ||
		payload["ver"] != float64(lic.TokenVersion) || payload["max_apps"] != float64(lic.MaxApps) {
		t.Fatalf("payload %v for license %+v", payload, lic)
	}

	got, claims := mustVerify(t, s, is.Token)
	if got.ID != lic.ID || claims.ID != is.ID || claims.TenantID != lic.TenantID || !claims.ValidTo.Equal(lic.ValidTo.Truncate(time.Microsecond)) {
		t.Fatalf("verified %+v / %+v, want license %+v", got, claims, lic)
	}
	if !claims.ExpiresAt.Time.Equal(is.ExpiresAt) {
		t.Fatalf("exp %v, issued %v", claims.ExpiresAt.Time, is.ExpiresAt)
	}
}

func TestIssueExpiry(t *testing.T) {
	t.Parallel()
	pool, s, lic := setup(t, testConfig)
	ctx := context.Background()

	// The TTL bounds the lifetime.
	is := issue(t, s, lic)
	if d := time.Until(is.ExpiresAt); d > testConfig.TTL || d < testConfig.TTL-time.Minute {
		t.Fatalf("expires in %v, TTL %v", d, testConfig.TTL)
	}
	// An earlier expires_at wins; a later one does not.
	want := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	if is, err := s.Issue(ctx, lic, want); err != nil || !is.ExpiresAt.Equal(want) {
		t.Fatalf("issue with expires_at: %v %v", is.ExpiresAt, err)
	}
	if is, err := s.Issue(ctx, lic, time.Now().Add(48*time.Hour)); err != nil || is.ExpiresAt.After(time.Now().Add(testConfig.TTL)) {
		t.Fatalf("later expires_at: %v %v", is.ExpiresAt, err)
	}
	// A past expires_at is a validation error.
	if _, err := s.Issue(ctx, lic, time.Now().Add(-time.Minute)); licensing.ErrorCode(err) != licensing.CodeValidation {
		t.Fatalf("past expires_at: %v", err)
	}
	// The license's valid_to bounds the lifetime.
	exec(t, pool, `UPDATE licenses SET valid_to = now() + interval '5 minutes' WHERE id = $1`, lic.ID)
	lic, _ = db.New(pool).LicenseGet(ctx, lic.ID)
	if is := issue(t, s, lic); is.ExpiresAt.After(lic.ValidTo) {
		t.Fatalf("expires %v after valid_to %v", is.ExpiresAt, lic.ValidTo)
	}
	// No token for an expired license.
	exec(t, pool, `UPDATE licenses SET valid_to = now() - interval '1 minute' WHERE id = $1`, lic.ID)
	lic, _ = db.New(pool).LicenseGet(ctx, lic.ID)
	if _, err := s.Issue(ctx, lic, time.Time{}); licensing.ErrorCode(err) != licensing.CodeLicenseExpired {
		t.Fatalf("issue for an expired license: %v", err)
	}
}

// TestIssueForALicenseThatStartsLater: the TTL counts from valid_from, so
// the token outlives the wait for the license to start; nbf stays now and
// valid_to still bounds exp.
func TestIssueForALicenseThatStartsLater(t *testing.T) {
	t.Parallel()
	pool, s, lic := setup(t, testConfig)
	ctx := context.Background()
	exec(t, pool, `UPDATE licenses SET valid_from = now() + interval '30 days', valid_to = now() + interval '60 days' WHERE id = $1`, lic.ID)
	lic, _ = db.New(pool).LicenseGet(ctx, lic.ID)
	before := time.Now().Truncate(time.Second)
	is := issue(t, s, lic)
	if want := lic.ValidFrom.Add(testConfig.TTL).Truncate(time.Second); !is.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want valid_from + TTL = %v", is.ExpiresAt, want)
	}
	if _, _, err := s.Verify(ctx, is.Token); licensing.ErrorCode(err) != licensing.CodeLicenseNotYetValid {
		t.Fatalf("verify before valid_from: %v, want LICENSE_NOT_YET_VALID", err)
	}
	payload := decodeSegment(t, strings.Split(is.Token, ".")[1])
	if nbf := time.Unix(int64(payload["nbf"].(float64)), 0); nbf.Before(before) || nbf.After(time.Now()) {
		t.Fatalf("nbf %v, want now", nbf)
	}
	// valid_to still caps the lifetime.
	exec(t, pool, `UPDATE licenses SET valid_to = valid_from + interval '10 minutes' WHERE id = $1`, lic.ID)
	lic, _ = db.New(pool).LicenseGet(ctx, lic.ID)
	if is := issue(t, s, lic); !is.ExpiresAt.Equal(lic.ValidTo.Truncate(time.Second)) {
		t.Fatalf("expires at %v, want valid_to %v", is.ExpiresAt, lic.ValidTo)
	}
}

func TestVerifyRefusesForgedAndInvalidTokens(t *testing.T) {
	t.Parallel()
	_, s, lic := setup(t, testConfig)
	ctx := context.Background()
	good := issue(t, s, lic)
	mustVerify(t, s, good.Token)
	parts := strings.Split(good.Token, ".")

	jwks, err := s.JWKS(ctx)
	if err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("jwks %v %v", jwks, err)
	}
	pub, err := base64.RawURLEncoding.DecodeString(jwks.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}

	tamper := func(change func(m map[string]any)) string {
		m := decodeSegment(t, parts[1])
		change(m)
		b, _ := json.Marshal(m)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	withClaims := func(change func(c *tokens.Claims)) string {
		c := goodClaims(lic)
		change(c)
		return signed(t, s, c, nil)
	}

	cases := map[string]string{
		"empty":       "",
		"garbage":     "not.a.jwt",
		"one segment": "abc",
		"alg none": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims(lic))
			tok.Header["typ"], tok.Header["kid"] = "license+jwt", good.KeyID
			raw, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}(),
		"alg none, signature of the good token": func() string {
			h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "license+jwt", "kid": good.KeyID})
			return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
		}(),
		"HS256 keyed with the public key": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(lic))
			tok.Header["typ"], tok.Header["kid"] = "license+jwt", good.KeyID
			raw, err := tok.SignedString(pub)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}(),
		"HS256 keyed with the public key as base64url": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(lic))
			tok.Header["typ"], tok.Header["kid"] = "license+jwt", good.KeyID
			raw, _ := tok.SignedString([]byte(jwks.Keys[0].X))
			return raw
		}(),
		"unknown kid, signed by a foreign key": func() string {
			_, foreign, _ := ed25519.GenerateKey(rand.Reader)
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, goodClaims(lic))
			tok.Header["typ"], tok.Header["kid"] = "license+jwt", "someone-elses-key"
			raw, _ := tok.SignedString(foreign)
			return raw
		}(),
		"server kid, signed by a foreign key": func() string {
			_, foreign, _ := ed25519.GenerateKey(rand.Reader)
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, goodClaims(lic))
			tok.Header["typ"], tok.Header["kid"] = "license+jwt", good.KeyID
			raw, _ := tok.SignedString(foreign)
			return raw
		}(),
		"no kid":                 signed(t, s, goodClaims(lic), map[string]any{"kid": nil}),
		"tampered max_apps":      tamper(func(m map[string]any) { m["max_apps"] = 1000000 }),
		"tampered exp":           tamper(func(m map[string]any) { m["exp"] = time.Now().Add(1000 * time.Hour).Unix() }),
		"tampered signature":     parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"signature dropped":      parts[0] + "." + parts[1] + ".",
		"expired":                withClaims(func(c *tokens.Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Minute)) }),
		"no exp":                 withClaims(func(c *tokens.Claims) { c.ExpiresAt = nil }),
		"nbf in the future":      withClaims(func(c *tokens.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) }),
		"iat in the future":      withClaims(func(c *tokens.Claims) { c.IssuedAt = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) }),
		"wrong aud":              withClaims(func(c *tokens.Claims) { c.Audience = jwt.ClaimStrings{"another-api"} }),
		"no aud":                 withClaims(func(c *tokens.Claims) { c.Audience = nil }),
		"wrong iss":              withClaims(func(c *tokens.Claims) { c.Issuer = "evil-issuer" }),
		"wrong typ":              signed(t, s, goodClaims(lic), map[string]any{"typ": "JWT"}),
		"no typ":                 signed(t, s, goodClaims(lic), map[string]any{"typ": nil}),
		"sub not a uuid":         withClaims(func(c *tokens.Claims) { c.Subject = "not-a-uuid" }),
		"sub an unknown license": withClaims(func(c *tokens.Claims) { c.Subject = uuid.NewString() }),
		"old version":            withClaims(func(c *tokens.Claims) { c.Version = lic.TokenVersion - 1 }),
		"future version":         withClaims(func(c *tokens.Claims) { c.Version = lic.TokenVersion + 1 }),
		"too long":               good.Token + strings.Repeat("A", 9000),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) { wantRefused(t, s, raw, licensing.CodeInvalidToken) })
	}

	// Within the leeway, exp and nbf are forgiven.
	mustVerify(t, s, withClaims(func(c *tokens.Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-20 * time.Second)) }))
	mustVerify(t, s, withClaims(func(c *tokens.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(20 * time.Second)) }))
	// The full media type is accepted as typ.
	mustVerify(t, s, signed(t, s, goodClaims(lic), map[string]any{"typ": "application/license+jwt"}))
	// The good token is still good.
	mustVerify(t, s, good.Token)
}

func TestLeewayIsAtMostSixtySeconds(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.Leeway = 10 * time.Minute
	_, s, lic := setup(t, cfg)
	c := goodClaims(lic)
	c.NotBefore = jwt.NewNumericDate(time.Now().Add(3 * time.Minute))
	wantRefused(t, s, signed(t, s, c, nil), licensing.CodeInvalidToken)
	c = goodClaims(lic)
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-3 * time.Minute))
	wantRefused(t, s, signed(t, s, c, nil), licensing.CodeInvalidToken)
}

func TestVerifyReadsTheLicense(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := tokens.New(pool, testConfig, quietLog())
	ctx := context.Background()

	cases := []struct {
		name   string
		change string
		code   licensing.Code
	}{
		{"suspended", `UPDATE licenses SET status = 'SUSPENDED' WHERE id = $1`, licensing.CodeLicenseSuspended},
		{"revoked", `UPDATE licenses SET status = 'REVOKED' WHERE id = $1`, licensing.CodeLicenseRevoked},
		{"expired", `UPDATE licenses SET valid_to = now() - interval '1 second' WHERE id = $1`, licensing.CodeLicenseExpired},
		{"not yet valid", `UPDATE licenses SET valid_from = now() + interval '1 day' WHERE id = $1`, licensing.CodeLicenseNotYetValid},
		{"token version raised", `UPDATE licenses SET token_version = token_version + 1 WHERE id = $1`, licensing.CodeInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lic := newLicense(t, pool)
			is := issue(t, s, lic)
			mustVerify(t, s, is.Token)
			exec(t, pool, tc.change, lic.ID)
			wantRefused(t, s, is.Token, tc.code)
		})
	}

	t.Run("suspend and reactivate", func(t *testing.T) {
		lic := newLicense(t, pool)
		is := issue(t, s, lic)
		exec(t, pool, `UPDATE licenses SET status = 'SUSPENDED' WHERE id = $1`, lic.ID)
		wantRefused(t, s, is.Token, licensing.CodeLicenseSuspended)
		exec(t, pool, `UPDATE licenses SET status = 'ACTIVE' WHERE id = $1`, lic.ID)
		mustVerify(t, s, is.Token)
	})

	t.Run("a new token after the version was raised", func(t *testing.T) {
		lic := newLicense(t, pool)
		old := issue(t, s, lic)
		exec(t, pool, `UPDATE licenses SET token_version = token_version + 1 WHERE id = $1`, lic.ID)
		lic, err := db.New(pool).LicenseGet(ctx, lic.ID)
		if err != nil {
			t.Fatal(err)
		}
		fresh := issue(t, s, lic)
		wantRefused(t, s, old.Token, licensing.CodeInvalidToken)
		if got, _ := mustVerify(t, s, fresh.Token); got.TokenVersion != lic.TokenVersion {
			t.Fatalf("verified version %d, want %d", got.TokenVersion, lic.TokenVersion)
		}
	})

	t.Run("the database, not the claims, is the truth", func(t *testing.T) {
		lic := newLicense(t, pool)
		is := issue(t, s, lic)
		exec(t, pool, `UPDATE licenses SET max_apps = 42 WHERE id = $1`, lic.ID)
		got, claims := mustVerify(t, s, is.Token)
		if got.MaxApps != 42 || claims.MaxApps != lic.MaxApps {
			t.Fatalf("license max_apps %d (want 42), claims %d (want the snapshot %d)", got.MaxApps, claims.MaxApps, lic.MaxApps)
		}
	})
}

func TestRotationAndRetirement(t *testing.T) {
	t.Parallel()
	_, s, lic := setup(t, testConfig)
	ctx := context.Background()

	old := issue(t, s, lic)
	kid2, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid2 == old.KeyID {
		t.Fatalf("rotation kept kid %s", kid2)
	}
	fresh := issue(t, s, lic)
	if fresh.KeyID != kid2 {
		t.Fatalf("after rotation the token is signed by %s, want %s", fresh.KeyID, kid2)
	}
	// Both verify until the old key is retired.
	mustVerify(t, s, old.Token)
	mustVerify(t, s, fresh.Token)
	jwks, err := s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 2 || jwks.Keys[0].Kid != kid2 || jwks.Keys[1].Kid != old.KeyID {
		t.Fatalf("jwks after rotation: %+v", jwks)
	}

	if err := s.Retire(ctx, old.KeyID); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, old.Token, licensing.CodeInvalidToken)
	mustVerify(t, s, fresh.Token)
	if jwks, _ = s.JWKS(ctx); len(jwks.Keys) != 1 || jwks.Keys[0].Kid != kid2 {
		t.Fatalf("jwks after retirement: %+v", jwks)
	}
	// Retiring again is harmless; an unknown kid is NOT_FOUND.
	if err := s.Retire(ctx, old.KeyID); err != nil {
		t.Fatalf("retire twice: %v", err)
	}
	if err := s.Retire(ctx, "no-such-kid"); licensing.ErrorCode(err) != licensing.CodeNotFound {
		t.Fatalf("retire unknown: %v", err)
	}

	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Kid != kid2 || !keys[0].Signing || keys[0].RetiredAt != nil ||
		keys[1].Kid != old.KeyID || keys[1].Signing || keys[1].RetiredAt == nil {
		t.Fatalf("keys: %+v", keys)
	}

	// Retiring the last key: its tokens die, and the next Issue makes a new key.
	if err := s.Retire(ctx, kid2); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, fresh.Token, licensing.CodeInvalidToken)
	third := issue(t, s, lic)
	if third.KeyID == kid2 || third.KeyID == old.KeyID {
		t.Fatalf("signed by retired key %s", third.KeyID)
	}
	mustVerify(t, s, third.Token)
}

func TestReplicasShareKeys(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	newPool := func() *pgxpool.Pool {
		p, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	poolA, poolB := newPool(), newPool()
	a := tokens.New(poolA, testConfig, quietLog())
	b := tokens.New(poolB, testConfig, quietLog())
	lic := newLicense(t, poolA)

	// Both replicas need the first key at once: exactly one is made.
	const n = 8
	var (
		start  = make(chan struct{})
		wg     sync.WaitGroup
		kids   = make([]string, n)
		errs   = make([]error, n)
		issued = make([]string, n)
	)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			is, err := s.Issue(ctx, lic, time.Time{})
			kids[i], errs[i], issued[i] = is.KeyID, err, is.Token
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("issue %d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("replicas signed with different first keys: %v", kids)
		}
	}
	var count int
	if err := poolA.QueryRow(ctx, `SELECT count(*) FROM signing_keys`).Scan(&count); err != nil || count != 1 {
		t.Fatalf("signing_keys has %d rows (%v), want 1", count, err)
	}
	// Each verifies the other's tokens.
	for _, raw := range issued {
		mustVerify(t, a, raw)
		mustVerify(t, b, raw)
	}

	// A rotates: B verifies the new key's tokens at once (unknown kid
	// reloads) and signs with it too.
	b.SetKeyCacheTTL(0)
	kid2, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromA := issue(t, a, lic)
	mustVerify(t, b, fromA.Token)
	if fromB := issue(t, b, lic); fromB.KeyID != kid2 {
		t.Fatalf("replica B signs with %s after A rotated to %s", fromB.KeyID, kid2)
	}
	// A retires the first key: B refuses its tokens once its cache is due.
	if err := a.Retire(ctx, kids[0]); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, b, issued[0], licensing.CodeInvalidToken)
	mustVerify(t, b, fromA.Token)
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := tokens.New(pool, testConfig, quietLog())
	ctx := context.Background()
	// The first key is made on demand, so the set is never empty.
	jwks, err := s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 1 {
		t.Fatalf("jwks %+v", jwks)
	}
	k := jwks.Keys[0]
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || k.Kid == "" {
		t.Fatalf("jwk %+v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("x %q: %v", k.X, err)
	}
	var pub, priv []byte
	if err := pool.QueryRow(ctx, `SELECT public_key, private_key FROM signing_keys WHERE kid = $1`, k.Kid).Scan(&pub, &priv); err != nil {
		t.Fatal(err)
	}
	if string(pub) != string(x) {
		t.Fatalf("published key differs from the stored one")
	}
	// A token issued now verifies with the published key alone, as a client would.
	lic := newLicense(t, pool)
	is := issue(t, s, lic)
	tok, err := jwt.Parse(is.Token, func(t *jwt.Token) (any, error) { return ed25519.PublicKey(x), nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(testConfig.Audience))
	if err != nil || !tok.Valid {
		t.Fatalf("client-side verification: %v", err)
	}
	// Only public members: the JSON carries no "d".
	b, _ := json.Marshal(jwks)
	if strings.Contains(string(b), `"d"`) || strings.Contains(string(b), base64.RawURLEncoding.EncodeToString(priv[:32])) {
		t.Fatalf("jwks leaks the private key: %s", b)
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it must refuse them with a
// licensing error and never panic.
func FuzzVerify(f *testing.F) {
	pool := pgtest.NewPool(f)
	s := tokens.New(pool, testConfig, quietLog())
	good, err := s.SignForTest(context.Background(), &tokens.Claims{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", ".", "..", "a.b.c", good, good + "x", strings.ToUpper(good),
		"eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFZERTQSIsImtpZCI6MX0.e30.AA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _, err := s.Verify(context.Background(), raw)
		if err == nil {
			t.Fatalf("accepted %q", raw)
		}
		var le *licensing.Error
		if !errors.As(err, &le) || (le.Code != licensing.CodeInvalidToken && le.Code != licensing.CodeUnavailable) {
			t.Fatalf("error %v for %q", err, raw)
		}
	})
}

// TestConcurrentVerifyDuringRotation verifies from several goroutines while
// keys rotate and the cache reloads on every call: a token of a key that
// is never retired must pass every time (run with -race to check the cache).
func TestConcurrentVerifyDuringRotation(t *testing.T) {
	t.Parallel()
	_, s, lic := setup(t, testConfig)
	s.SetKeyCacheTTL(0)
	ctx := context.Background()
	good := issue(t, s, lic)
	const workers, rounds = 4, 25
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make(chan error, workers*rounds+10)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range rounds {
				if _, _, err := s.Verify(ctx, good.Token); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for range 5 {
			kid, err := s.Rotate(ctx)
			if err != nil {
				errs <- err
				continue
			}
			if _, err := s.JWKS(ctx); err != nil {
				errs <- err
			}
			// Retire every new key at once; the first key stays.
			if err := s.Retire(ctx, kid); err != nil {
				errs <- err
			}
		}
	}()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
