package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/apitest"
)

func TestIssueTokens(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	l := mustCreate(t, env, "tokened", nil)
	path := "/api/licenses/" + l.ID + "/tokens"

	var first, second, third struct {
		Token     string    `json:"token"`
		TokenID   string    `json:"token_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r := env.Do(http.MethodPost, path, env.AdminToken, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r.Decode(t, &first)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r = env.Do(http.MethodPost, path, env.AdminToken, map[string]any{"expires_at": exp.Format(time.RFC3339), "reason": "ci"})
	r.Decode(t, &second)
	if r.Status != http.StatusCreated || !second.ExpiresAt.Equal(exp) || second.Token == first.Token {
		t.Fatalf("with expires_at: %d %s", r.Status, r.Body)
	}
	// Without revoke_previous every token still works.
	ctx := context.Background()
	for _, tok := range []string{l.Token, first.Token, second.Token} {
		if _, _, err := env.App.Tokens.Verify(ctx, tok); err != nil {
			t.Fatalf("token before revoke_previous: %v", err)
		}
	}
	r = env.Do(http.MethodPost, path, env.AdminToken, map[string]any{"revokePrevious": true})
	r.Decode(t, &third)
	if r.Status != http.StatusCreated {
		t.Fatalf("revoke_previous: %d %s", r.Status, r.Body)
	}
	for _, tok := range []string{l.Token, first.Token, second.Token} {
		if _, _, err := env.App.Tokens.Verify(ctx, tok); err == nil {
			t.Fatal("an earlier token still works after revoke_previous")
		}
	}
	if _, _, err := env.App.Tokens.Verify(ctx, third.Token); err != nil {
		t.Fatalf("the new token: %v", err)
	}

	evs := events(t, env, l.ID)
	last := evs[len(evs)-1]
	if last.Action != "TOKEN_ISSUE" || last.After["jti"] != third.TokenID || last.After["kid"] == nil || last.After["expires_at"] == nil ||
		last.Before["token_version"] != 1.0 || last.After["token_version"] != 2.0 || last.After["revoke_previous"] != true {
		t.Fatalf("audit %+v", last)
	}
	if ev := evs[len(evs)-2]; ev.Reason == nil || *ev.Reason != "ci" || ev.Before != nil {
		t.Fatalf("audit %+v", ev)
	}
	all, _ := json.Marshal(evs)
	for _, tok := range []string{l.Token, first.Token, second.Token, third.Token} {
		if strings.Contains(string(all), tok) || strings.Contains(env.Logs.String(), tok) {
			t.Fatal("a token is in the audit trail or the logs")
		}
	}

	for _, body := range []any{
		map[string]any{"expires_at": "2020-01-01T00:00:00Z"},
		map[string]any{"expires_at": "later"},
		map[string]any{"revoke_previous": "yes"},
		map[string]any{"revoke_previous": true, "revokePrevious": false},
	} {
		wantProblem(t, env.Do(http.MethodPost, path, env.AdminToken, body), http.StatusBadRequest, "VALIDATION_FAILED")
	}
	env.Do(http.MethodPost, "/api/licenses/"+l.ID+"/revoke", env.AdminToken, nil)
	wantProblem(t, env.Do(http.MethodPost, path, env.AdminToken, nil), http.StatusConflict, "INVALID_TRANSITION")
}
