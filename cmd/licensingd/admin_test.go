package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/licensing-service/licensing/internal/pgtest"
)

// TestAdminKeyCommands makes, lists and revokes a stored admin key through
// `licensingd admin`, and uses the key against a running server in between.
func TestAdminKeyCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	log, logs := testLogger(t)
	var out bytes.Buffer
	if err := adminCmd(ctx, cfg, log, []string{"create-key", "ops-bot"}, &out); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "lsa_") || len(key) < 40 {
		t.Fatalf("key %q", key)
	}

	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/licenses", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != http.StatusOK {
		t.Fatalf("with the new key: %d", s)
	}

	out.Reset()
	if err := adminCmd(ctx, cfg, log, []string{"create-key", "ops-bot"}, &out); err == nil || !strings.Contains(err.Error(), "ADMIN_KEY_NAME_TAKEN") {
		t.Fatalf("a second ops-bot: %v", err)
	}
	if err := adminCmd(ctx, cfg, log, []string{"revoke-key", "ops-bot"}, &out); err != nil {
		t.Fatal(err)
	}
	if s := get(); s != http.StatusUnauthorized {
		t.Fatalf("with the revoked key: %d", s)
	}
	out.Reset()
	if err := adminCmd(ctx, cfg, log, []string{"list-keys"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "ops-bot") || strings.HasSuffix(lines[1], "-") || strings.Contains(out.String(), key) {
		t.Fatalf("list-keys:\n%s", out.String())
	}
	for _, args := range [][]string{nil, {"create-key"}, {"revoke-key"}, {"list-keys", "x"}, {"nope"}} {
		if err := adminCmd(ctx, cfg, log, args, &out); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if strings.Contains(logs.String(), key) {
		t.Fatal("the key is in the logs")
	}
}

// TestDevModeAdminToken: with no admin token and no DATABASE_URL the server
// makes one, keeps it in <DataDir>/admin-token with mode 0600, and reuses it.
func TestDevModeAdminToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AdminToken = ""
	log, logs := testLogger(t)
	var stderr bytes.Buffer
	first := cfg
	if err := resolveAdminToken(&first, log, &stderr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.DataDir, "admin-token")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if first.AdminToken == "" || !strings.Contains(stderr.String(), first.AdminToken) || !strings.Contains(stderr.String(), "new") {
		t.Fatalf("token %q, stderr %q", first.AdminToken, stderr.String())
	}
	second := cfg
	stderr.Reset()
	if err := resolveAdminToken(&second, log, &stderr); err != nil {
		t.Fatal(err)
	}
	if second.AdminToken != first.AdminToken || !strings.Contains(stderr.String(), "kept in") {
		t.Fatalf("second start: %q vs %q (%s)", second.AdminToken, first.AdminToken, stderr.String())
	}
	if strings.Contains(logs.String(), first.AdminToken) {
		t.Fatal("the dev token is in the JSON log lines")
	}

	// With DATABASE_URL and no token, only stored keys work: no token, a warning.
	prod := cfg
	prod.DatabaseURL = "postgres://example.invalid/licensing"
	stderr.Reset()
	if err := resolveAdminToken(&prod, log, &stderr); err != nil {
		t.Fatal(err)
	}
	if prod.AdminToken != "" || stderr.Len() != 0 || !strings.Contains(logs.String(), "LICENSING_ADMIN_TOKEN is unset") {
		t.Fatalf("with DATABASE_URL: token %q, stderr %q", prod.AdminToken, stderr.String())
	}
	// A configured token is kept as it is.
	set := cfg
	set.AdminToken = "configured"
	if err := resolveAdminToken(&set, log, &stderr); err != nil || set.AdminToken != "configured" {
		t.Fatalf("%v %q", err, set.AdminToken)
	}
}
