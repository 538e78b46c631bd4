package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"bitgate/ent"
	"bitgate/ent/auditevent"
	"bitgate/ent/user"
	"bitgate/internal/auth"
	"bitgate/internal/database"
)

// TestCreateAdmin creates an admin with ADMIN_PASSWORD, then promotes that
// existing user with -promote and a password read on stdin, as the
// contract's `go run . create-admin -email E` does.
func TestCreateAdmin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "ADMIN_PASSWORD": "first admin password"}
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	require.NoError(t, run([]string{"create-admin", "-email", " Boss@Example.com "}, getenv, strings.NewReader(""), &out, io.Discard))
	require.Contains(t, out.String(), "created admin boss@example.com")

	delete(env, "ADMIN_PASSWORD")
	out.Reset()
	require.NoError(t, run([]string{"create-admin", "-promote", "-email", "boss@example.com"}, getenv, strings.NewReader("second admin password\n"), &out, io.Discard))
	require.Contains(t, out.String(), "promoted admin boss@example.com")

	db, err := database.Open(context.Background(), "file:"+filepath.Join(dir, "bitgate.db"), database.Options{})
	require.NoError(t, err)
	defer db.Close()
	client := db.Client
	u, err := client.User.Query().Where(user.Email("boss@example.com")).Only(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2049, u.PermissionLevel, "FREE|ADMIN")
	_, err = auth.VerifyPassword(u.PasswordHash, "second admin password")
	require.NoError(t, err, "the password read on stdin replaced the first")

	err = run([]string{"create-admin", "-email", "new@example.com"}, getenv, strings.NewReader("short\n"), io.Discard, io.Discard)
	require.ErrorContains(t, err, "at least 8 characters", "a new admin needs a valid password")
	err = run([]string{"create-admin"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
	require.ErrorContains(t, err, "-email is required")
}

// TestCreateAdminExistingAccount runs create-admin on an email that
// someone signed up with before the operator: anyone may sign up as
// ops@example.com and wait. Without -promote that account is left as it
// is; with it, it becomes ADMIN only with the operator's new password,
// which ends its sessions, and the promotion is said on stderr and in the
// audit log.
func TestCreateAdminExistingAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	const (
		email            = "ops@example.com"
		attackerPassword = "the attacker's own password"
		adminPassword    = "the operator's admin password"
	)
	open := func() *ent.Client {
		db, err := database.Open(ctx, "file:"+filepath.Join(dir, "bitgate.db"), database.Options{})
		require.NoError(t, err)
		return db.Client
	}
	client := open()
	hash, err := auth.HashPassword(attackerPassword)
	require.NoError(t, err)
	squatter := client.User.Create().SetFirstName("Eve").SetLastName("Squatter").SetEmail(email).
		SetPasswordHash(hash).SaveX(ctx)
	session := client.Session.Create().SetUserID(squatter.ID).SetRefreshHash("squatter's session").
		SetExpiresAt(time.Now().Add(time.Hour)).SaveX(ctx)
	client.Close()
	env := map[string]string{"DATA_DIR": dir}

	// Without -promote, with or without a password: refused, nothing changes.
	for _, password := range []string{"", adminPassword} {
		env["ADMIN_PASSWORD"] = password
		r := runBitgate(t, env, "create-admin", "-email", email)
		require.Equal(t, 1, r.status, "create-admin on an existing account: %s", r.stderr)
		require.Contains(t, r.stderr, "-promote")
		client = open()
		u := client.User.GetX(ctx, squatter.ID)
		require.Equal(t, squatter.PermissionLevel, u.PermissionLevel, "create-admin promoted without -promote")
		require.Equal(t, hash, u.PasswordHash)
		client.Close()
	}

	// -promote needs a new password.
	delete(env, "ADMIN_PASSWORD")
	r := runBitgate(t, env, "create-admin", "-promote", "-email", email)
	require.Equal(t, 1, r.status, "create-admin -promote without a password: %s", r.stderr)
	require.Contains(t, r.stderr, "password")

	env["ADMIN_PASSWORD"] = adminPassword
	r = runBitgate(t, env, "create-admin", "-promote", "-email", email)
	require.Zero(t, r.status, "create-admin -promote: %s", r.stderr)
	require.Contains(t, r.stdout, "promoted admin "+email)
	require.Regexp(t, `(?i)warning: .*existing account `+email+`.*ADMIN.*password.*replaced.*sessions.*ended`, r.stderr)
	client = open()
	defer client.Close()
	u := client.User.GetX(ctx, squatter.ID)
	require.Equal(t, 2049, u.PermissionLevel, "FREE|ADMIN")
	_, err = auth.VerifyPassword(u.PasswordHash, attackerPassword)
	require.ErrorIs(t, err, auth.ErrMismatch, "the squatter's password still signs in as ADMIN")
	_, err = auth.VerifyPassword(u.PasswordHash, adminPassword)
	require.NoError(t, err)
	require.NotNil(t, client.Session.GetX(ctx, session.ID).RevokedAt, "the squatter's session outlived the promotion")
	require.True(t, client.AuditEvent.Query().Where(auditevent.Action("user.promoted"), auditevent.UserID(u.ID)).ExistX(ctx),
		"no audit event for the promotion")
}

// TestHashPassword prints an argon2id hash of the password on stdin that
// verifies, and refuses a password the contract would refuse.
func TestHashPassword(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run([]string{"hash-password"}, func(string) string { return "" }, strings.NewReader("long enough pw\n"), &out, io.Discard))
	hash := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"), "hash-password printed %q", hash)
	_, err := auth.VerifyPassword(hash, "long enough pw")
	require.NoError(t, err)

	err = run([]string{"hash-password"}, func(string) string { return "" }, strings.NewReader("short\n"), io.Discard, io.Discard)
	require.ErrorContains(t, err, "at least 8 characters")
}

// TestCheckHash names the lines of hashes that sign-in would refuse and
// fails if there is one.
func TestCheckHash(t *testing.T) {
	own, err := auth.HashPassword("long enough pw")
	require.NoError(t, err)
	bc, err := bcrypt.GenerateFromPassword([]byte("long enough pw"), bcrypt.MinCost)
	require.NoError(t, err)
	noenv := func(string) string { return "" }

	var out strings.Builder
	require.NoError(t, run([]string{"check-hash"}, noenv, strings.NewReader(own+"\n\n"+string(bc)+"\r\n"), &out, io.Discard))
	require.Empty(t, out.String())

	costly := strings.Replace(own, "t=2", "t=16", 1)
	out.Reset()
	err = run([]string{"check-hash"}, noenv, strings.NewReader(own+"\n"+costly+"\nplaintext\n"+string(bc)+"\n"), &out, io.Discard)
	require.ErrorContains(t, err, "refuse 2 of the hashes")
	require.Regexp(t, `^line 2: .*out of range.*\nline 3: .*unknown scheme\n$`, out.String())
	require.NotContains(t, out.String(), costly[20:], "check-hash printed a hash")
}
