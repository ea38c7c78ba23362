package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/config"
)

// TestAdminAuthFailuresAreLimited: after the configured number of failed
// admin authentications a client address is refused with 429 and
// Retry-After, even with the right key, until its window ends; other
// clients and successful authentications are unaffected; the count lives
// in PostgreSQL.
func TestAdminAuthFailuresAreLimited(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Config) {
		c.AdminAuthMaxFailures = 3
		c.AdminAuthWindow = time.Hour
		c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"}
	})
	const attacker, admin = "203.0.113.7", "198.51.100.9"
	get := func(client, key string) apitest.Response {
		t.Helper()
		return env.Do(http.MethodGet, "/api/licenses", key, nil, "X-Forwarded-For", client)
	}
	for i := 0; i < 5; i++ {
		if r := get(admin, env.AdminToken); r.Status != http.StatusOK {
			t.Fatalf("admin: %d %s", r.Status, r.Body)
		}
	}
	for i := 1; i <= 3; i++ {
		if r := get(attacker, "guess-"+strconv.Itoa(i)); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
		}
	}
	for _, key := range []string{"guess-4", env.AdminToken} {
		r := get(attacker, key)
		retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.Status != http.StatusTooManyRequests || r.JSON(t)["code"] != "TOO_MANY_REQUESTS" || retry < 1 || retry > 3600 {
			t.Fatalf("after 3 failures, key %q: %d Retry-After %q %s", key, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	// A missing key is not a guess; and the admin's address is unaffected.
	if r := get(admin, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.Status)
	}
	if r := get(admin, env.AdminToken); r.Status != http.StatusOK {
		t.Fatalf("admin after the attack: %d %s", r.Status, r.Body)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var clients, failures int
	if err := conn.QueryRow(ctx, "SELECT count(*), COALESCE(sum(failures), 0) FROM auth_failures").Scan(&clients, &failures); err != nil {
		t.Fatal(err)
	}
	if clients != 1 || failures != 3 {
		t.Fatalf("auth_failures holds %d clients, %d failures; want the attacker's 3", clients, failures)
	}
	// When the window has ended the address may try again.
	if _, err := conn.Exec(ctx, "UPDATE auth_failures SET window_start = window_start - interval '2 hours'"); err != nil {
		t.Fatal(err)
	}
	if r := get(attacker, env.AdminToken); r.Status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.Status, r.Body)
	}
}
