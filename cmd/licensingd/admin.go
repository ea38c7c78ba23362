package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
	"github.com/licensing-service/licensing/internal/postgres"
)

const adminUsage = `usage: licensingd admin create-key NAME   make an admin key (printed once) for NAME
       licensingd admin list-keys         list the admin keys (never the keys themselves)
       licensingd admin revoke-key NAME   refuse NAME's key from now on`

// adminCmd manages the admin keys stored (hashed) in the database.
func adminCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	switch {
	case args[0] == "list-keys" && len(args) == 1:
	case (args[0] == "create-key" || args[0] == "revoke-key") && len(args) == 2:
	default:
		return errors.New(adminUsage)
	}
	pool, closeDB, err := toolPool(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	svc := admin.New(pool, admin.Config{}, nil, log)
	switch args[0] {
	case "create-key":
		key, k, err := svc.CreateKey(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "admin key %q created; it is shown only now, keep it safe:\n", k.Name)
		fmt.Fprintln(stdout, key)
		return nil
	case "revoke-key":
		k, err := svc.RevokeKey(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin key %q revoked\n", k.Name)
		return nil
	}
	keys, err := svc.ListKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

// toolPool opens a small pool on the service's database, migrated, for the
// maintenance commands (admin, keys); close releases it and stops the private
// cluster if it was started here.
func toolPool(ctx context.Context, cfg config.Config, log *slog.Logger) (*pgxpool.Pool, func(), error) {
	url, _, stopDB, err := database(ctx, cfg, log)
	if errors.Is(err, pgembed.ErrInUse) {
		return nil, nil, errors.New("the private PostgreSQL is in use by a running licensingd: stop it first, or set DATABASE_URL to its database")
	}
	if err != nil {
		return nil, nil, err
	}
	// A first run may come before the server ever migrated the database.
	if err := migrations.Up(url); err != nil {
		stopDB()
		return nil, nil, err
	}
	pool, err := postgres.NewPool(ctx, url, postgres.PoolConfig{MaxConns: 2, StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		stopDB()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); stopDB() }, nil
}

// resolveAdminToken settles which admin token the server accepts besides
// the stored keys. With LICENSING_ADMIN_TOKEN unset and the private cluster
// in use (dev mode) it is the token kept in <DataDir>/admin-token (made on
// first start, mode 0600), printed on stderr outside the JSON log lines so a
// developer can copy it; with DATABASE_URL set only stored keys work.
func resolveAdminToken(cfg *config.Config, log *slog.Logger, stderr io.Writer) error {
	if cfg.AdminToken != "" {
		return nil
	}
	if cfg.DatabaseURL != "" {
		log.Warn("LICENSING_ADMIN_TOKEN is unset: only admin keys made with `licensingd admin create-key` are accepted")
		return nil
	}
	tok, created, err := admin.DevToken(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.AdminToken = tok
	state := "kept in"
	if created {
		state = "new, saved to"
	}
	fmt.Fprintf(stderr, "\nlicensingd: dev mode admin token (%s %s):\n\n    %s\n\n",
		state, filepath.Join(cfg.DataDir, admin.DevTokenFile), tok)
	return nil
}
