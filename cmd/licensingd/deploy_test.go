package main

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/licensing-service/licensing/internal/config"
)

// No Docker engine runs in CI, so these tests read the deployment files and
// check what a broken `docker compose up` would otherwise reveal late: pg_cron
// preloaded for the right database, the app waiting for a healthy database,
// and only settings that licensingd actually reads.

type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Ports []string `yaml:"ports"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestDockerCompose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, ok := f.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}
	build, _ := pg.Build.(map[string]any)
	inline, _ := build["dockerfile_inline"].(string)
	if !regexp.MustCompile(`(?m)^FROM postgres:`).MatchString(inline) || !strings.Contains(inline, "-cron") {
		t.Errorf("the postgres image is not the official one plus pg_cron:\n%s", inline)
	}
	cmd := strings.Join(pg.Command, " ")
	db := pg.Environment["POSTGRES_DB"]
	if !strings.Contains(cmd, "shared_preload_libraries=pg_cron") || !strings.Contains(cmd, "cron.database_name="+db) || db == "" {
		t.Errorf("pg_cron is not preloaded for database %q: %s", db, cmd)
	}
	if len(pg.Healthcheck.Test) == 0 || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres has no pg_isready healthcheck: %v", pg.Healthcheck.Test)
	}

	app, ok := f.Services["licensing"]
	if !ok {
		t.Fatal("no licensing service")
	}
	if app.Build != "." {
		t.Errorf("the app is not built from the Dockerfile at the top: %v", app.Build)
	}
	if app.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("the app does not wait for a healthy database: %+v", app.DependsOn)
	}
	// Compose fills ${NAME:-default} in; the defaults make a usable URL.
	defaults := regexp.MustCompile(`\$\{\w+:-([^}]*)\}`)
	u, err := url.Parse(defaults.ReplaceAllString(app.Environment["DATABASE_URL"], "$1"))
	if err != nil || u.Hostname() != "postgres" || strings.TrimPrefix(u.Path, "/") != db || u.User.Username() != pg.Environment["POSTGRES_USER"] {
		t.Errorf("DATABASE_URL %q does not point at the postgres service's database %q", app.Environment["DATABASE_URL"], db)
	}
	if !strings.Contains(app.Environment["LICENSING_ADMIN_TOKEN"], "${LICENSING_ADMIN_TOKEN") {
		t.Errorf("LICENSING_ADMIN_TOKEN does not come from the environment: %q", app.Environment["LICENSING_ADMIN_TOKEN"])
	}
	// Every variable given to the app is one licensingd reads.
	known := map[string]bool{}
	if _, err := config.FromEnv(func(name string) string { known[name] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	for name := range app.Environment {
		if !known[name] {
			t.Errorf("the app is given %s, which licensingd does not read", name)
		}
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user, entrypoint string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms = append(froms, fields[1])
			user = "" // USER is per stage
		case "USER":
			user = fields[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Errorf("want a multi-stage build from golang:1.26, have %v", froms)
	}
	if !strings.Contains(string(raw), "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("the final stage runs as %q, want a non-root user", user)
	}
	if !strings.Contains(entrypoint, "licensingd") {
		t.Errorf("ENTRYPOINT %s is not licensingd", entrypoint)
	}
	// Every command the image builds exists.
	build := regexp.MustCompile(`go build [^\n]*`).FindString(string(raw))
	for _, pkg := range regexp.MustCompile(`\./cmd/[a-z]+`).FindAllString(build, -1) {
		if _, err := os.Stat("../../" + pkg + "/main.go"); err != nil {
			t.Errorf("the Dockerfile builds %s, which does not exist", pkg)
		}
	}
	if !strings.Contains(build, "./cmd/licensingd") {
		t.Errorf("the Dockerfile does not build licensingd: %s", build)
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil || !regexp.MustCompile(`(?m)^\.data$`).Match(ignore) {
		t.Errorf(".dockerignore must keep .data (the private cluster) out of the build context: %v", err)
	}
}
