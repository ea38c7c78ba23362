package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/licensing-service/licensing/internal/config"
	"github.com/licensing-service/licensing/internal/tokens"
)

// keysCmd lists, rotates and retires the keys that sign license tokens.
// It writes what it has to say to out.
func keysCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] == "retire") != (len(args) == 2) || len(args) > 2 {
		return errors.New(usage)
	}
	pool, closeDB, err := toolPool(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	svc := tokens.New(pool, tokens.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL}, log)
	switch args[0] {
	case "list":
		keys, err := svc.Keys(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KID\tALG\tCREATED\tRETIRED\tROLE")
		for _, k := range keys {
			retired, role := "-", "verifies"
			if k.RetiredAt != nil {
				retired, role = k.RetiredAt.UTC().Format(time.RFC3339), "retired"
			} else if k.Signing {
				role = "signs"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Kid, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339), retired, role)
		}
		return w.Flush()
	case "rotate":
		kid, err := svc.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, kid)
		return nil
	case "retire":
		return svc.Retire(ctx, args[1])
	}
	return errors.New(usage)
}
