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

	"bitgate/auth"
	"bitgate/internal/account"
)

// createAdmin creates an ADMIN, or promotes an existing user to ADMIN. The
// password comes from ADMIN_PASSWORD or the first line of stdin; it is
// required for a new user and, for an existing one, replaces the old one
// when given.
func createAdmin(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var email, first, last string
	cfg, err := parseConfig("bitgate create-admin", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the admin's email (required)")
		fs.StringVar(&first, "first-name", "Admin", "first name of a new admin")
		fs.StringVar(&last, "last-name", "User", "last name of a new admin")
	})
	if err != nil {
		return err
	}
	if email == "" {
		return errors.New("create-admin: -email is required")
	}
	password := getenv("ADMIN_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	ctx := context.Background()
	log := newLogger(cfg, stderr)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	u, created, err := a.Accounts.EnsureAdmin(ctx, account.CreateUserInput{
		FirstName: first, LastName: last, Email: email, Password: password,
	})
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	verb := "promoted"
	if created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "%s admin %s (%s)\n", verb, u.Email, u.ID)
	log.Info("create-admin", slog.String("user_id", u.ID.String()), slog.Bool("created", created))
	return nil
}

// hashPassword prints the argon2id hash of the password on stdin (one line,
// its line ending dropped).
func hashPassword(stdin io.Reader, stdout io.Writer) error {
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
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
	_, err = fmt.Fprintln(stdout, h)
	return err
}
