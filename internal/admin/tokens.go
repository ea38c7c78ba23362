package admin

import (
	"context"
	"time"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/tokens"
)

// Token is a freshly issued license token: the token itself (shown once,
// never stored or logged), its id (jti), the signing key's id and its expiry.
type Token = tokens.Issued

// TokenIssuer signs license tokens inside the caller's transaction q (so an
// admin change holding its transaction needs no second connection); a zero
// expiresAt means the default lifetime. *tokens.Service is the one the app
// uses.
type TokenIssuer interface {
	IssueIn(ctx context.Context, q *db.Queries, lic db.License, expiresAt time.Time) (tokens.Issued, error)
}
