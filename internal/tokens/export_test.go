package tokens

import (
	"context"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SignForTest signs claims with the current signing key, with header
// members overridden by header (nil values delete them), so tests can make
// tokens this package would never issue.
func (s *Service) SignForTest(ctx context.Context, claims jwt.Claims, header map[string]any) (string, error) {
	k, err := s.signingKey(ctx, nil)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["typ"] = Type
	t.Header["kid"] = k.kid
	for name, v := range header {
		if v == nil {
			delete(t.Header, name)
		} else {
			t.Header[name] = v
		}
	}
	return t.SignedString(k.key)
}

// SetKeyCacheTTL changes how long verifying keys are cached (0: reload on
// every verification), so tests can see another replica's changes at once.
func (s *Service) SetKeyCacheTTL(d time.Duration) {
	s.mu.Lock()
	s.cacheTTL = d
	s.mu.Unlock()
}
