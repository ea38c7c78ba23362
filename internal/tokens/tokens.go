// Package tokens issues and verifies license tokens: JWTs signed with
// Ed25519 (alg EdDSA, header typ license+jwt) by keys kept in PostgreSQL, so
// that every replica signs and verifies with the same keys.
//
// The claims are a signed snapshot for clients; the database is the truth.
// Verify therefore reads the license on every call and refuses a token whose
// license may not operate now or whose version was superseded.
package tokens

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/postgres"
)

const (
	// Type is the typ header of a license token (RFC 8725 explicit typing).
	Type = "license+jwt"
	// Algorithm is the only signature algorithm tokens are signed and verified with.
	Algorithm = "EdDSA"

	// MaxLeeway bounds the clock skew tolerated on exp, nbf and iat.
	MaxLeeway = 60 * time.Second
	// DefaultTTL is the token lifetime when Config.TTL is not set.
	DefaultTTL = 365 * 24 * time.Hour

	// maxTokenBytes refuses absurd inputs before any parsing.
	maxTokenBytes = 8 << 10
	// keyCacheTTL is how long the verifying keys are trusted without a
	// reload; a key retired on another replica stops verifying here within it.
	keyCacheTTL = 5 * time.Second
	// unknownKidReload is the least time between two reloads caused by an
	// unknown kid, so that forged kids cannot hammer the database.
	unknownKidReload = time.Second
)

// Config configures the Service.
type Config struct {
	// Issuer and Audience are the iss and aud of issued tokens, and the only
	// ones accepted.
	Issuer, Audience string
	// TTL bounds a token's lifetime (the license's valid_to bounds it too).
	// Zero means DefaultTTL.
	TTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat: zero means
	// MaxLeeway, and more than MaxLeeway is cut down to it.
	Leeway time.Duration
}

// Claims are the claims of a license token. The license fields are a
// snapshot taken when the token was issued.
type Claims struct {
	jwt.RegisteredClaims
	TenantID            string    `json:"tenant_id"`
	Status              string    `json:"status"`
	ValidFrom           time.Time `json:"valid_from"`
	ValidTo             time.Time `json:"valid_to"`
	MaxApps             int32     `json:"max_apps"`
	MaxExecutionsPer24h int32     `json:"max_executions_per_24h"`
	// Version is the license's token_version when the token was issued;
	// raising token_version invalidates every earlier token.
	Version int32 `json:"ver"`
}

// Issued is a freshly signed token.
type Issued struct {
	Token string
	// ID is the token's jti.
	ID string
	// KeyID is the kid of the key that signed it.
	KeyID     string
	ExpiresAt time.Time
}

// JWK is the public half of an Ed25519 signing key (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set (RFC 7517).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// KeyInfo describes a signing key for operators, without key material.
type KeyInfo struct {
	Kid       string
	Algorithm string
	CreatedAt time.Time
	RetiredAt *time.Time
	// Signing is true for the key that signs new tokens.
	Signing bool
}

// Service issues and verifies license tokens. It is safe for concurrent use.
type Service struct {
	pool   *pgxpool.Pool
	cfg    Config
	log    *slog.Logger
	parser *jwt.Parser
	now    func() time.Time

	// The public halves of the verifying keys, cached briefly so that
	// verification does not read signing_keys on every request.
	mu       sync.Mutex
	keys     map[string]ed25519.PublicKey
	order    []string // kids, newest first
	loadedAt time.Time
	cacheTTL time.Duration

	verifications *prometheus.CounterVec
	keyReloads    prometheus.Counter
}

// New returns a Service on pool. Keys are created on first need.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Leeway <= 0 || cfg.Leeway > MaxLeeway {
		cfg.Leeway = MaxLeeway
	}
	s := &Service{pool: pool, cfg: cfg, log: log, now: time.Now, cacheTTL: keyCacheTTL,
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensing_token_verifications_total",
			Help: "License token verifications by result: ok, or the lower-cased error code (invalid_token, license_suspended, ...).",
		}, []string{"result"}),
		keyReloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensing_signing_key_reloads_total",
			Help: "Reloads of the verifying keys from signing_keys (cache expiry, unknown kid, rotation).",
		}),
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return s
}

// Collectors returns the Service's Prometheus figures, for the app's
// registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.verifications, s.keyReloads}
}

// Issue signs a token for lic with the newest unretired key, creating the
// first key if there is none. The token expires at TTL after now (or after
// the license's valid_from, when that is later) or at the license's
// valid_to, whichever is first, or at expiresAt when that is
// non-zero and earlier still. It returns VALIDATION_FAILED for an expiresAt
// that is not in the future and LICENSE_EXPIRED for a license past its
// valid_to.
func (s *Service) Issue(ctx context.Context, lic db.License, expiresAt time.Time) (Issued, error) {
	return s.issue(ctx, nil, lic, expiresAt)
}

// IssueIn is Issue inside the caller's transaction q: the signing key is
// read (and the first one made) through q. A caller that holds a
// transaction, such as an admin change that must record the token in its
// audit row, needs no second connection, so concurrent callers cannot
// exhaust the pool while each waits for one more connection.
func (s *Service) IssueIn(ctx context.Context, q *db.Queries, lic db.License, expiresAt time.Time) (Issued, error) {
	return s.issue(ctx, q, lic, expiresAt)
}

// issue signs a token; inTx, when not nil, is the caller's transaction.
func (s *Service) issue(ctx context.Context, inTx *db.Queries, lic db.License, expiresAt time.Time) (Issued, error) {
	now := s.now()
	// The lifetime counts from when the license becomes valid, so the
	// first token of a license that starts in the future does not expire
	// before it can be used; nbf stays now (the license check refuses the
	// token with NOT_YET_VALID until then anyway).
	start := now
	if lic.ValidFrom.After(start) {
		start = lic.ValidFrom
	}
	exp := start.Add(s.cfg.TTL)
	if lic.ValidTo.Before(exp) {
		exp = lic.ValidTo
	}
	if !expiresAt.IsZero() {
		if !expiresAt.After(now) {
			return Issued{}, licensing.Invalid(licensing.FieldError{Field: "expires_at", Message: "must be in the future"})
		}
		if expiresAt.Before(exp) {
			exp = expiresAt
		}
	}
	// NumericDate has whole seconds: a token must not outlive its bound.
	exp = exp.Truncate(time.Second)
	if !exp.After(now) {
		return Issued{}, licensing.Errorf(licensing.CodeLicenseExpired, "the license has expired: no token can be issued")
	}
	key, err := s.signingKey(ctx, inTx)
	if err != nil {
		return Issued{}, err
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   lic.ID.String(),
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		TenantID:            lic.TenantID,
		Status:              lic.Status,
		ValidFrom:           lic.ValidFrom.UTC(),
		ValidTo:             lic.ValidTo.UTC(),
		MaxApps:             lic.MaxApps,
		MaxExecutionsPer24h: lic.MaxExecutionsPer24h,
		Version:             lic.TokenVersion,
	}
	raw, err := sign(key, &claims)
	if err != nil {
		return Issued{}, licensing.Internal(fmt.Errorf("tokens: sign: %w", err))
	}
	return Issued{Token: raw, ID: claims.ID, KeyID: key.kid, ExpiresAt: exp}, nil
}

// privateKey is a signing key; it lives only for the duration of a call.
type privateKey struct {
	kid string
	key ed25519.PrivateKey
}

func sign(k privateKey, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["typ"] = Type
	t.Header["kid"] = k.kid
	return t.SignedString(k.key)
}

// signingKey reads the newest unretired key, creating the first one if
// there is none. It reads the database every time: issuing is rare, and a
// key retired or rotated on another replica must not keep signing here.
func (s *Service) signingKey(ctx context.Context, inTx *db.Queries) (privateKey, error) {
	read := inTx
	if read == nil {
		read = db.New(s.pool)
	}
	row, err := read.SigningKeyCurrent(ctx)
	created := false
	if errors.Is(err, pgx.ErrNoRows) {
		first := func(q *db.Queries) error {
			if err := q.SigningKeyLock(ctx); err != nil {
				return err
			}
			// Another replica may have made it while we waited for the lock.
			if row, err = q.SigningKeyCurrent(ctx); !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			kid, err := s.createKey(ctx, q)
			if err != nil {
				return err
			}
			created = true
			s.log.InfoContext(ctx, "tokens: created the first signing key", "kid", kid)
			row, err = q.SigningKeyCurrent(ctx)
			return err
		}
		if inTx != nil {
			err = first(inTx)
		} else {
			err = postgres.WithTx(ctx, s.pool, first)
		}
	}
	if err != nil {
		return privateKey{}, postgres.Translate(err)
	}
	if created {
		s.forgetKeys()
	}
	if len(row.PrivateKey) != ed25519.PrivateKeySize {
		return privateKey{}, licensing.Internal(fmt.Errorf("tokens: signing key %s has a malformed private key", row.Kid))
	}
	return privateKey{kid: row.Kid, key: ed25519.PrivateKey(row.PrivateKey)}, nil
}

// createKey makes and stores a new Ed25519 key; its kid is the key's RFC
// 7638 JWK thumbprint.
func (s *Service) createKey(ctx context.Context, q *db.Queries) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("tokens: generate key: %w", err)
	}
	row, err := q.SigningKeyCreate(ctx, db.SigningKeyCreateParams{
		Kid:        thumbprint(pub),
		PublicKey:  pub,
		PrivateKey: priv,
	})
	if err != nil {
		return "", err
	}
	return row.Kid, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key.
func thumbprint(pub ed25519.PublicKey) string {
	// The required members in lexicographic order, no whitespace (RFC 7638 §3).
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Rotate creates a new signing key. It signs every token issued from now
// on; older keys keep verifying until they are retired. It returns the new
// key's kid.
func (s *Service) Rotate(ctx context.Context) (string, error) {
	var kid string
	err := postgres.WithTx(ctx, s.pool, func(q *db.Queries) error {
		if err := q.SigningKeyLock(ctx); err != nil {
			return err
		}
		var err error
		kid, err = s.createKey(ctx, q)
		return err
	})
	if err != nil {
		return "", postgres.Translate(err)
	}
	s.forgetKeys()
	s.log.InfoContext(ctx, "tokens: rotated the signing key", "kid", kid)
	return kid, nil
}

// Retire stops the key kid from signing and verifying: every token it
// signed is refused from now on (on other replicas within a few seconds).
// Retiring the signing key makes the next Issue sign with the newest key
// left, or create a new one. It returns NOT_FOUND for an unknown kid.
func (s *Service) Retire(ctx context.Context, kid string) error {
	_, err := db.New(s.pool).SigningKeyRetire(ctx, kid)
	if errors.Is(err, pgx.ErrNoRows) {
		return licensing.Errorf(licensing.CodeNotFound, "no signing key %q", kid)
	}
	if err != nil {
		return postgres.Translate(err)
	}
	s.forgetKeys()
	s.log.InfoContext(ctx, "tokens: retired a signing key", "kid", kid)
	return nil
}

// Keys lists every signing key, retired or not, newest first, without key
// material.
func (s *Service) Keys(ctx context.Context) ([]KeyInfo, error) {
	rows, err := db.New(s.pool).SigningKeyList(ctx)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out := make([]KeyInfo, 0, len(rows))
	signing := false
	for _, r := range rows {
		k := KeyInfo{Kid: r.Kid, Algorithm: r.Algorithm, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt}
		// Rows come newest first: the first unretired one signs.
		if r.RetiredAt == nil && !signing {
			k.Signing, signing = true, true
		}
		out = append(out, k)
	}
	return out, nil
}

// JWKS returns the public keys that verify tokens, newest first, creating
// the first key if there is none so that clients can fetch it early.
func (s *Service) JWKS(ctx context.Context) (JWKS, error) {
	keys, order, err := s.verifyingKeys(ctx)
	if err != nil {
		return JWKS{}, err
	}
	if len(order) == 0 {
		// signingKey makes the first key and drops the cache.
		if _, err := s.signingKey(ctx, nil); err != nil {
			return JWKS{}, err
		}
		if keys, order, err = s.verifyingKeys(ctx); err != nil {
			return JWKS{}, err
		}
	}
	set := JWKS{Keys: make([]JWK, 0, len(order))}
	for _, kid := range order {
		set.Keys = append(set.Keys, JWK{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(keys[kid]),
			Kid: kid,
			Alg: Algorithm,
			Use: "sig",
		})
	}
	return set, nil
}

// forgetKeys drops the cache, so that the next use reloads it.
func (s *Service) forgetKeys() {
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
}

// verifyingKeys returns the cached verifying keys, reloading them when the
// cache is older than its TTL.
func (s *Service) verifyingKeys(ctx context.Context) (map[string]ed25519.PublicKey, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadedAt.IsZero() || s.now().Sub(s.loadedAt) >= s.cacheTTL {
		if err := s.reloadLocked(ctx); err != nil {
			return nil, nil, err
		}
	}
	return s.keys, s.order, nil
}

// publicKey finds the verifying key kid: from the cache, reloaded when it
// is stale, or when kid is unknown and the last reload is at least a second
// old (a new key made by another replica shows up this way).
func (s *Service) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	age := s.now().Sub(s.loadedAt)
	if s.loadedAt.IsZero() || age >= s.cacheTTL {
		if err := s.reloadLocked(ctx); err != nil {
			return nil, err
		}
	} else if _, ok := s.keys[kid]; !ok && age >= unknownKidReload {
		if err := s.reloadLocked(ctx); err != nil {
			return nil, err
		}
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, invalidToken("unknown signing key", nil)
}

func (s *Service) reloadLocked(ctx context.Context) error {
	s.keyReloads.Inc()
	rows, err := db.New(s.pool).SigningKeyListVerifying(ctx)
	if err != nil {
		return postgres.Translate(err)
	}
	keys := make(map[string]ed25519.PublicKey, len(rows))
	order := make([]string, 0, len(rows))
	for _, r := range rows {
		if len(r.PublicKey) != ed25519.PublicKeySize {
			s.log.ErrorContext(ctx, "tokens: skipping a malformed public key", "kid", r.Kid)
			continue
		}
		keys[r.Kid] = ed25519.PublicKey(r.PublicKey)
		order = append(order, r.Kid)
	}
	// The maps are replaced, never changed: callers may keep the old ones.
	s.keys, s.order, s.loadedAt = keys, order, s.now()
	return nil
}

// Verify checks raw and returns the license it stands for, as the database
// has it now, and the token's claims. The token must be signed with EdDSA
// by one of the server's unretired keys (found by kid), have typ
// license+jwt, the configured iss and aud, an exp, and nbf and iat not in
// the future (within the leeway). Then the license is read: the token's
// version must be the license's token_version, and the license must be
// able to operate now.
//
// Errors are *licensing.Error: INVALID_TOKEN for a missing, malformed,
// forged, expired or superseded token or an unknown license;
// LICENSE_SUSPENDED, LICENSE_REVOKED, LICENSE_EXPIRED or
// LICENSE_NOT_YET_VALID for a license that may not operate;
// SERVICE_UNAVAILABLE when the database cannot answer.
func (s *Service) Verify(ctx context.Context, raw string) (db.License, *Claims, error) {
	lic, claims, err := s.verify(ctx, raw)
	result := "ok"
	if err != nil {
		result = strings.ToLower(string(licensing.ErrorCode(err)))
	}
	s.verifications.WithLabelValues(result).Inc()
	return lic, claims, err
}

func (s *Service) verify(ctx context.Context, raw string) (db.License, *Claims, error) {
	if raw == "" {
		return db.License{}, nil, invalidToken("missing license token", nil)
	}
	if len(raw) > maxTokenBytes {
		return db.License{}, nil, invalidToken("malformed license token", errors.New("token too long"))
	}
	claims := &Claims{}
	_, err := s.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !isTokenType(typ) {
			return nil, invalidToken("not a license token", fmt.Errorf("typ %q", typ))
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > 128 {
			return nil, invalidToken("the token names no valid kid", nil)
		}
		return s.publicKey(ctx, kid)
	})
	if err != nil {
		return db.License{}, nil, verifyError(err)
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil {
		return db.License{}, nil, invalidToken("the token names no license", err)
	}
	row, err := db.New(s.pool).LicenseGetWithEffectiveStatus(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.License{}, nil, invalidToken("the token's license does not exist", nil)
	}
	if err != nil {
		return db.License{}, nil, postgres.Translate(err)
	}
	lic := row.License
	if claims.Version != lic.TokenVersion {
		return db.License{}, nil, invalidToken("the token was superseded by a newer one", fmt.Errorf("ver %d, license has %d", claims.Version, lic.TokenVersion))
	}
	if err := licensing.StatusError(row.EffectiveStatus); err != nil {
		return db.License{}, nil, err
	}
	return lic, claims, nil
}

// isTokenType accepts typ license+jwt, also in its full media type form
// (RFC 7515 §4.1.9: media types compare case-insensitively).
func isTokenType(typ string) bool {
	return strings.EqualFold(typ, Type) || strings.EqualFold(typ, "application/"+Type)
}

func invalidToken(msg string, cause error) *licensing.Error {
	return &licensing.Error{Code: licensing.CodeInvalidToken, Message: msg, Err: cause}
}

// verifyError turns a jwt error into a client-safe INVALID_TOKEN, keeping
// the errors of the key lookup (which may be SERVICE_UNAVAILABLE).
func verifyError(err error) error {
	var le *licensing.Error
	if errors.As(err, &le) {
		return le
	}
	msg := "malformed license token"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "the license token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "the license token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "the license token's signature is invalid"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "the license token is for another audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "the license token is from another issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "the license token lacks a required claim"
	}
	return invalidToken(msg, err)
}
