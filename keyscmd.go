package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"bitgate/internal/auth"
)

// keysCommand runs `bitgate keys list` or `bitgate keys rotate` on the EdDSA
// signing keys in the database. Both take the server's flags; like the
// server, they create the first key if there is none. Returns a usageError
// without list or rotate.
func keysCommand(p proc, args []string) error {
	sub := ""
	if len(args) > 0 && (args[0] == "list" || args[0] == "rotate") {
		sub, args = args[0], args[1:]
	}
	cfg, err := parseConfig("keys", args, p.getenv, nil)
	switch {
	case err != nil:
		return err
	case sub == "":
		return usageError{errors.New("keys: say list or rotate")}
	case cfg.JWTAlg != "EdDSA":
		return errors.New("keys manages the EdDSA signing keys (JWT_ALG=EdDSA); HS256 rotates by setting JWT_SECRET to a new secret and JWT_SECRET_PREVIOUS to the old one")
	}
	ctx := context.Background()
	a, err := newApp(ctx, cfg, newLogger(cfg, p.stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	if sub == "rotate" {
		k, err := a.Keys.Rotate(ctx)
		if err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		fmt.Fprintf(p.stdout, "added key %s: published now, signing from %s; the current key verifies its tokens until %s\n",
			k.ID, stamp(k.ActiveFrom), stamp(k.ActiveFrom.Add(cfg.AccessTTL+auth.Leeway)))
		return nil
	}
	list, err := a.Keys.List(ctx)
	if err != nil {
		return fmt.Errorf("keys list: %w", err)
	}
	w := tabwriter.NewWriter(p.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tVERIFIES UNTIL")
	for _, k := range list {
		until := "-"
		if !k.VerifiesUntil.IsZero() {
			until = stamp(k.VerifiesUntil)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, stamp(k.CreatedAt), stamp(k.ActiveFrom), until)
	}
	return w.Flush()
}

// stamp formats a time for the keys commands: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
