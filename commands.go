package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"bitgate/internal/account"
	"bitgate/internal/auth"
)

// createAdmin creates an ADMIN. The password comes from ADMIN_PASSWORD or
// the first line of stdin, and is required. An email that belongs to an
// account already is refused unless -promote is given: anyone may have
// signed up with it before the operator. With -promote that account
// becomes ADMIN with the new password, which ends all its sessions, and a
// warning on stderr says so.
func createAdmin(p proc, args []string) error {
	var email, first, last string
	var promote bool
	cfg, err := parseConfig("create-admin", args, p.getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the admin's email (required)")
		fs.StringVar(&first, "first-name", "Admin", "first name of a new admin")
		fs.StringVar(&last, "last-name", "User", "last name of a new admin")
		fs.BoolVar(&promote, "promote", false, "if the email belongs to an existing account, make that account ADMIN:\nit gets the new password, and all its sessions end")
	})
	if err != nil {
		return err
	}
	if email == "" {
		return errors.New("create-admin: -email is required")
	}
	password := p.getenv("ADMIN_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(io.LimitReader(p.stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	ctx := context.Background()
	log := newLogger(cfg, p.stderr)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	u, created, err := a.Accounts.EnsureAdmin(ctx, account.CreateUserInput{
		FirstName: first, LastName: last, Email: email, Password: password,
	}, promote)
	if errors.Is(err, account.ErrUserExists) {
		return fmt.Errorf("create-admin: %s belongs to an existing account, left as it is; "+
			"if that account is yours, run again with -promote: it becomes ADMIN with the new password, and all its sessions end", email)
	}
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	if !created {
		fmt.Fprintf(p.stderr, "bitgate: WARNING: promoted the existing account %s (%s) to ADMIN; "+
			"its password was replaced and all its sessions ended. Anyone could have signed up with this email: "+
			"check that the account's names and notes are yours.\n", u.Email, u.ID)
	}
	verb := "promoted"
	if created {
		verb = "created"
	}
	fmt.Fprintf(p.stdout, "%s admin %s (%s)\n", verb, u.Email, u.ID)
	log.Info("create-admin", slog.String("user_id", u.ID.String()), slog.Bool("created", created))
	return nil
}

// hashPassword prints the argon2id hash of the password on stdin (one line,
// its line ending dropped).
func hashPassword(p proc, args []string) error {
	if err := parseFlags(newFlagSet("hash-password"), args); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(p.stdin, 4096))
	if err != nil {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(string(b), "\r\n")
	if err := account.CheckPassword(password); err != nil {
		return err
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(p.stdout, h)
	return err
}

// checkHash reads password hashes to import, one a line, on stdin, and
// names on stdout each line that sign-in would refuse (malformed, of an
// unknown scheme, or costlier than the bounds), with the reason but not
// the hash. Returns an error if any line is refused.
func checkHash(p proc, args []string) error {
	if err := parseFlags(newFlagSet("check-hash"), args); err != nil {
		return err
	}
	sc := bufio.NewScanner(p.stdin)
	line, refused := 0, 0
	for sc.Scan() {
		line++
		h := strings.TrimSpace(sc.Text())
		if h == "" {
			continue
		}
		if err := auth.CheckHash(h); err != nil {
			refused++
			fmt.Fprintf(p.stdout, "line %d: %v\n", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read hashes: %w", err)
	}
	if refused > 0 {
		return fmt.Errorf("check-hash: sign-in would refuse %d of the hashes", refused)
	}
	return nil
}

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
	case cfg.App.Signing.Alg != "EdDSA":
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
			k.ID, stamp(k.ActiveFrom), stamp(k.ActiveFrom.Add(cfg.App.Tokens.AccessTTL+auth.Leeway)))
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

// mailCommand runs `bitgate mail test -to ADDRESS`: it sends one test mail
// at once through the configured path (SMTP_URL, or a file in development),
// without the outbox, and says what the other end answered. It takes the
// server's flags. Returns a usageError without test or -to, or the error
// of the sending: the connection, TLS, authentication, or the server's
// refusal with its code.
func mailCommand(p proc, args []string) error {
	sub := ""
	if len(args) > 0 && args[0] == "test" {
		sub, args = args[0], args[1:]
	}
	var to string
	cfg, err := parseConfig("mail", args, p.getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "the address to send the test mail to (required)")
	})
	switch {
	case err != nil:
		return err
	case sub == "":
		return usageError{errors.New("mail: say test")}
	case to == "":
		return usageError{errors.New("mail test: -to is required")}
	}
	ctx := context.Background()
	a, err := newApp(ctx, cfg, newLogger(cfg, p.stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	result, err := a.Mailer.SendTest(ctx, to)
	if err != nil {
		return fmt.Errorf("mail test: %w", err)
	}
	fmt.Fprintf(p.stdout, "sent a test mail to %s: %s\n", to, result)
	return nil
}
