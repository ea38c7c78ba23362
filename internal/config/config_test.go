package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/licensing-service/licensing/internal/config"
)

// variables returns every environment variable FromEnv reads.
func variables(t *testing.T) []string {
	t.Helper()
	var names []string
	if _, err := config.FromEnv(func(name string) string { names = append(names, name); return "" }); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestREADMEListsEveryVariable keeps the README's Configuration table in
// step with the code: a new setting must be documented there.
func TestREADMEListsEveryVariable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("README.md has no Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	for _, name := range variables(t) {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("README.md's Configuration table does not list `%s`", name)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"LICENSING_ADDR":              "127.0.0.1:9000",
		"LICENSING_DB_POOL_SIZE":      "7",
		"LICENSING_STATEMENT_TIMEOUT": "250ms",
		"LICENSING_TRUSTED_PROXIES":   "10.0.0.0/8, 192.0.2.1",
	}
	c, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.PoolSize != 7 || c.StatementTimeout != 250*time.Millisecond ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != "192.0.2.1" {
		t.Fatalf("config %+v", c)
	}
	if d := config.Default(); c.ShutdownTimeout != d.ShutdownTimeout || c.DataDir != d.DataDir {
		t.Fatalf("unset variables lost their defaults: %+v", c)
	}

	for _, bad := range []map[string]string{
		{"LICENSING_DB_POOL_SIZE": "0"},
		{"LICENSING_DB_POOL_SIZE": "many"},
		{"LICENSING_SHUTDOWN_TIMEOUT": "-1s"},
		{"LICENSING_PG_PORT": "70000"},
		{"LICENSING_TLS_CERT": "cert.pem"},
		{"LICENSING_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"},
	} {
		if _, err := config.FromEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v was accepted", bad)
		} else {
			for k := range bad {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("the error for %v does not name the variable: %v", bad, err)
				}
			}
		}
	}
}
