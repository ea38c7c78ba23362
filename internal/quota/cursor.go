package quota

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/internal/licensing"
)

// Page sizes of the list endpoints.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > MaxPageLimit:
		return MaxPageLimit
	}
	return n
}

// page converts the rows of a query asked for limit+1 rows: the first
// limit, and the cursor after the last of them when there were more.
func page[R, T any](rows []R, limit int, conv func(R) T, cursor func(R) string) ([]T, *string) {
	var next *string
	if len(rows) > limit {
		rows = rows[:limit]
		c := cursor(rows[limit-1])
		next = &c
	}
	items := make([]T, 0, len(rows))
	for _, r := range rows {
		items = append(items, conv(r))
	}
	return items, next
}

// Cursors are opaque to clients: base64url of the keyset position.

func encodeJobCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("j:" + strconv.FormatInt(seq, 10)))
}

func decodeJobCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "j:") {
		return 0, errBadCursor
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(string(b), "j:"), 10, 64)
	if err != nil || seq < 1 {
		return 0, errBadCursor
	}
	return seq, nil
}

func encodeAppCursor(at time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a:" + at.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

func decodeAppCursor(c string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "a:") {
		return time.Time{}, uuid.Nil, errBadCursor
	}
	ts, idStr, ok := strings.Cut(strings.TrimPrefix(string(b), "a:"), "|")
	if !ok {
		return time.Time{}, uuid.Nil, errBadCursor
	}
	at, err1 := time.Parse(time.RFC3339Nano, ts)
	id, err2 := uuid.Parse(idStr)
	if err1 != nil || err2 != nil {
		return time.Time{}, uuid.Nil, errBadCursor
	}
	return at, id, nil
}

var errBadCursor = licensing.Invalid(licensing.FieldError{Field: "cursor", Message: "is not a cursor this service returned"})
