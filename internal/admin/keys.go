package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/postgres"
)

// EnvActor is the audit actor of requests made with Config.AdminToken
// (LICENSING_ADMIN_TOKEN or the dev-mode token). Stored keys may not take
// this name.
const EnvActor = "env"

// keyPrefix marks the service's admin keys, so a leaked one is recognisable
// (secret scanners) and never mistaken for a license token.
const keyPrefix = "lsa_"

var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$`)

// Authenticate returns the actor name of an admin key: EnvActor for the
// configured admin token (compared in constant time), the key's name for an
// unrevoked stored key (looked up by its SHA-256 hash, so the lookup reveals
// nothing about the key). Errors: UNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, key string) (string, error) {
	unauthorized := licensing.Errorf(licensing.CodeUnauthorized, "a valid admin key is required")
	if key == "" {
		return "", unauthorized
	}
	sum := sha256.Sum256([]byte(key))
	if s.cfg.AdminToken != "" {
		want := sha256.Sum256([]byte(s.cfg.AdminToken))
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			return EnvActor, nil
		}
	}
	k, err := db.New(s.pool).AdminKeyGetActiveByHash(ctx, sum[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return "", unauthorized
	}
	if err != nil {
		return "", postgres.Translate(err)
	}
	return k.Name, nil
}

// CreateKey makes a new admin key named name and stores its hash. The
// returned key is the only copy: show it once. Errors: VALIDATION_FAILED,
// ADMIN_KEY_NAME_TAKEN (names stay taken after revocation).
func (s *Service) CreateKey(ctx context.Context, name string) (string, db.AdminKey, error) {
	switch {
	case !keyNamePattern.MatchString(name):
		return "", db.AdminKey{}, licensing.Invalid(licensing.FieldError{Field: "name", Message: "must be 1 to 100 letters, digits, '.', '_', '@', ':' or '-', starting with a letter or digit"})
	case name == EnvActor:
		return "", db.AdminKey{}, licensing.Invalid(licensing.FieldError{Field: "name", Message: fmt.Sprintf("%q is the actor of the configured admin token", EnvActor)})
	}
	key, err := NewSecret(keyPrefix)
	if err != nil {
		return "", db.AdminKey{}, licensing.Internal(err)
	}
	sum := sha256.Sum256([]byte(key))
	k, err := db.New(s.pool).AdminKeyCreate(ctx, db.AdminKeyCreateParams{Name: name, KeyHash: sum[:]})
	if err != nil {
		return "", db.AdminKey{}, postgres.Translate(err)
	}
	s.log.InfoContext(ctx, "admin: admin key created", "name", name)
	return key, k, nil
}

// ListKeys lists every admin key (names and dates, never hashes worth
// showing), revoked ones included.
func (s *Service) ListKeys(ctx context.Context) ([]db.AdminKey, error) {
	keys, err := db.New(s.pool).AdminKeyList(ctx)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return keys, nil
}

// RevokeKey revokes the named key: from now on it is refused. Errors:
// ADMIN_KEY_NOT_FOUND when no unrevoked key has that name.
func (s *Service) RevokeKey(ctx context.Context, name string) (db.AdminKey, error) {
	k, err := db.New(s.pool).AdminKeyRevoke(ctx, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.AdminKey{}, licensing.Errorf(licensing.CodeAdminKeyNotFound, "no unrevoked admin key named %q", name)
	}
	if err != nil {
		return db.AdminKey{}, postgres.Translate(err)
	}
	s.log.InfoContext(ctx, "admin: admin key revoked", "name", name)
	return k, nil
}

// NewSecret returns prefix followed by 32 random bytes in base64url.
func NewSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// DevTokenFile is the name of the dev-mode admin token's file in the data
// directory; licensectl reads it too.
const DevTokenFile = "admin-token"

// DevToken returns the dev-mode admin token kept in dataDir/admin-token,
// creating it (mode 0600) on first use. created says whether it is new.
// Dev mode is the private cluster with no LICENSING_ADMIN_TOKEN: the token
// survives restarts so scripts and licensectl keep working.
func DevToken(dataDir string) (token string, created bool, err error) {
	path := filepath.Join(dataDir, DevTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("admin: read %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", false, fmt.Errorf("admin: %w", err)
	}
	if token, err = NewSecret(keyPrefix); err != nil {
		return "", false, err
	}
	// O_EXCL: two processes starting together must not overwrite each
	// other's token; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return "", false, fmt.Errorf("admin: read %s: %w", path, rerr)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
		return "", false, fmt.Errorf("admin: %s is empty; delete it to make a new token", path)
	}
	if err != nil {
		return "", false, fmt.Errorf("admin: create %s: %w", path, err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("admin: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("admin: write %s: %w", path, err)
	}
	return token, true, nil
}
