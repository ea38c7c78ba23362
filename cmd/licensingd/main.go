// Command licensingd is the licensing service: `serve` (the default) runs the
// HTTP server, `migrate up|down|version` manages the schema, `keys
// list|rotate|retire KID` manages the keys that sign license tokens.
//
// With DATABASE_URL unset it runs on a private PostgreSQL cluster under
// .data/postgres, made from the machine's PostgreSQL binaries.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/migrations"
	"github.com/licensing-service/licensing/internal/pgembed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, explain(err))
		os.Exit(1)
	}
}

// explain turns the errors a new user meets first into instructions.
func explain(err error) string {
	if errors.Is(err, pgembed.ErrNoBinaries) {
		return `licensingd: DATABASE_URL is unset and no PostgreSQL server binaries were found
to run a private cluster. Either install PostgreSQL 15 or newer (pg_cron too, for
the scheduled clean-ups):

    sudo apt-get install -y postgresql-15 postgresql-15-cron

(or set LICENSING_PG_BIN_DIR to the directory holding initdb), or point
licensingd at a PostgreSQL server of yours:

    DATABASE_URL='postgres://user:password@host:5432/licensing' licensingd`
	}
	return "licensingd: " + err.Error()
}

const usage = `usage: licensingd [serve]
       licensingd migrate up|down [N]|version
       licensingd keys list|rotate|retire KID
       licensingd admin create-key NAME|list-keys|revoke-key NAME
       licensingd healthcheck   (exits 0 when the local server is ready)`

func run(ctx context.Context, args []string) error {
	cfg, err := config.FromEnv(nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrateCmd(ctx, cfg, log, args)
	case "keys":
		return keysCmd(ctx, cfg, log, args, os.Stdout)
	case "admin":
		return adminCmd(ctx, cfg, log, args, os.Stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// serve runs the server until ctx is done (SIGINT or SIGTERM), then drains
// the requests in flight and stops.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if err := resolveAdminToken(&cfg, log, os.Stderr); err != nil {
		return err
	}
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		return errors.Join(err, m.Close())
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-m.Err():
	}
	return errors.Join(err, m.Close())
}

func migrateCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	url, _, stopDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDB()
	switch args[0] {
	case "up":
		return migrations.Up(url)
	case "down":
		steps := 1
		if len(args) > 1 {
			if args[1] == "all" {
				steps = 0
			} else if steps, err = strconv.Atoi(args[1]); err != nil || steps < 1 {
				return fmt.Errorf("migrate down: N must be a positive number or all")
			}
		}
		return migrations.Down(url, steps)
	case "version":
		v, dirty, err := migrations.Version(url)
		if err != nil {
			return err
		}
		fmt.Printf("version %d (dirty: %v)\n", v, dirty)
		return nil
	}
	return errors.New(usage)
}
