package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
)

// TestKeysCommands rotates, lists and retires signing keys the way an
// operator would, and checks that no key material is printed.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	log, logs := testLogger(t)
	ctx := context.Background()
	keys := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := keysCmd(ctx, cfg, log, args, &out)
		return out.String(), err
	}
	mustKeys := func(args ...string) string {
		t.Helper()
		out, err := keys(args...)
		if err != nil {
			t.Fatalf("keys %v: %v", args, err)
		}
		return out
	}

	if out := mustKeys("list"); strings.Count(out, "\n") != 1 {
		t.Fatalf("list before any key: %q", out)
	}
	kid1 := strings.TrimSpace(mustKeys("rotate"))
	kid2 := strings.TrimSpace(mustKeys("rotate"))
	if kid1 == "" || kid2 == "" || kid1 == kid2 {
		t.Fatalf("rotate printed %q then %q", kid1, kid2)
	}
	list := mustKeys("list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], kid2) || !strings.HasSuffix(lines[1], "signs") ||
		!strings.HasPrefix(lines[2], kid1) || !strings.HasSuffix(lines[2], "verifies") {
		t.Fatalf("list after two rotations:\n%s", list)
	}

	mustKeys("retire", kid1)
	list = mustKeys("list")
	lines = strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "signs") || !strings.HasPrefix(lines[2], kid1) || !strings.HasSuffix(lines[2], "retired") {
		t.Fatalf("list after retiring %s:\n%s", kid1, list)
	}

	if _, err := keys("retire", "no-such-kid"); licensing.ErrorCode(err) != licensing.CodeNotFound {
		t.Fatalf("retire an unknown kid: %v", err)
	}
	for _, bad := range [][]string{nil, {"retire"}, {"list", "extra"}, {"rotate", "x", "y"}, {"frobnicate"}} {
		if _, err := keys(bad...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Fatalf("keys %v: %v, want the usage", bad, err)
		}
	}

	// No private key is printed or logged.
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT private_key FROM signing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	privs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil || len(privs) != 2 {
		t.Fatalf("private keys: %d, %v", len(privs), err)
	}
	printed := list + logs.String()
	for _, priv := range privs {
		for _, enc := range []string{base64.RawURLEncoding.EncodeToString(priv[:32]), base64.StdEncoding.EncodeToString(priv[:32]), hex.EncodeToString(priv[:32])} {
			if strings.Contains(printed, enc) {
				t.Fatalf("a private key was printed or logged")
			}
		}
	}
}
