package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain runs bitgate's own main instead of the tests when the test
// binary is started by runBitgate, so that the tests see real exit
// statuses and output; as an unprivileged user first when
// BITGATE_TEST_UID says so (see unprivileged).
func TestMain(m *testing.M) {
	if os.Getenv("BITGATE_TEST_RUN_MAIN") == "1" {
		if uid := os.Getenv(testUIDEnv); uid != "" {
			dropPrivileges(uid)
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cliResult is what a bitgate process printed, how it exited, and the
// working directory it ran in.
type cliResult struct {
	stdout, stderr string
	status         int
	dir            string
}

// runBitgate runs bitgate (this test binary, turned into main by TestMain)
// with args and only the environment env, in a fresh working directory,
// and waits at most 30 seconds for it to exit.
func runBitgate(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	dir := t.TempDir()
	cmd.Dir = dir
	cmd.Env = []string{"BITGATE_TEST_RUN_MAIN=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, strings.NewReader("")
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "bitgate %q did not exit within 30s (a server started?); stderr: %s", args, &stderr)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err, "run bitgate %q", args)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.ExitCode(), dir: dir}
}

// TestNoSecretInHelpOrErrors runs bitgate with secrets in its environment
// and asks for help, mistypes flags and fails to reach the database: no
// output may hold a secret. Before, environment values were the flags'
// defaults, which help printed.
func TestNoSecretInHelpOrErrors(t *testing.T) {
	t.Parallel()
	const (
		jwtSecret = "jwt-secret-value-0123456789abcdef0123"
		dbPass    = "db-password-value-8f3a"
		adminPass = "admin-password-value-77"
	)
	env := map[string]string{
		"JWT_SECRET":     jwtSecret,
		"DATABASE_URL":   "postgres://app:" + dbPass + "@127.0.0.1:1/bitgate?connect_timeout=2",
		"ADMIN_PASSWORD": adminPass,
	}
	for _, args := range [][]string{
		{"-h"},
		{"--help"},
		{"-help"},
		{"serve", "-h"},
		{"create-admin", "-h"},
		{"hash-password", "-h"},
		{"-adr", ":8080"},
		{"-jwt-secret", "on-the-command-line"},
		{"-max-depth", "deep"},
		{"create-admin", "-emial", "a@example.com"},
		{"serve"}, // cannot reach the database
		{"create-admin", "-email", "a@example.com"},
		{"-database-url", "postgres://app:" + dbPass + "@127.0.0.1:1/bitgate?connect_timeout=2"},
		{"-database-url", "postgres://app:" + dbPass + "@[::1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := runBitgate(t, env, args...)
			out := r.stdout + r.stderr
			require.NotEmpty(t, out, "bitgate %q printed nothing", args)
			for _, secret := range []string{jwtSecret, dbPass, adminPass} {
				require.NotContains(t, out, secret, "bitgate %q printed a secret:\n%s", args, out)
			}
		})
	}
}

// TestSecretIsNoFlag refuses the signing secret as a flag, where ps would
// show it.
func TestSecretIsNoFlag(t *testing.T) {
	t.Parallel()
	_, err := parseConfig("bitgate", []string{"-jwt-secret", strings.Repeat("k", 32)}, func(string) string { return "" }, nil)
	require.ErrorContains(t, err, "flag provided but not defined: -jwt-secret")
	getenv := func(k string) string { return map[string]string{"JWT_SECRET": "from the environment"}[k] }
	cfg, err := parseConfig("bitgate", nil, getenv, nil)
	require.NoError(t, err)
	require.Equal(t, "from the environment", cfg.Secrets.JWTSecret)
}

// TestHelp asks for help every way there is: it lists the commands and
// the settings on standard output and exits 0. Before, -h exited 1 and
// listed neither create-admin nor hash-password.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"serve", "create-admin", "hash-password", "check-hash", "version", "-addr", "(ADDR)", "JWT_SECRET", `(default ":8080")`}},
		{[]string{"--help"}, []string{"serve", "create-admin", "hash-password", "version", "-database-url", "(DATABASE_URL)"}},
		{[]string{"help"}, []string{"serve", "create-admin", "hash-password", "version", "-max-depth"}},
		{[]string{"serve", "-h"}, []string{"create-admin", "-addr"}},
		{[]string{"create-admin", "--help"}, []string{"create-admin -email E", "-email", "-first-name", "-addr", "ADMIN_PASSWORD"}},
		{[]string{"help", "create-admin"}, []string{"create-admin -email E", "-email"}},
		{[]string{"hash-password", "-h"}, []string{"hash-password < password", "standard input"}},
		{[]string{"version", "-h"}, []string{"bitgate version"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runBitgate(t, nil, tc.args...)
			require.Equal(t, 0, r.status, "bitgate %q exit status; stderr: %s", tc.args, r.stderr)
			require.Empty(t, r.stderr, "bitgate %q wrote to stderr", tc.args)
			for _, w := range tc.want {
				require.Contains(t, r.stdout, w, "bitgate %q help", tc.args)
			}
		})
	}
}

// TestCommandLineMistakes are refused with exit status 2, a message on
// stderr, and no server start (nor a database created). Before, an
// unknown command such as create-adimn started the server.
func TestCommandLineMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create-adimn"}, `unknown command "create-adimn"`},
		{[]string{"create-adimn", "-email", "a@example.com"}, `unknown command "create-adimn"`},
		{[]string{"help", "nope"}, `unknown command "nope"`},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"-addr", "127.0.0.1:0", "create-admin"}, `unexpected argument "create-admin"`},
		{[]string{"-adr", "127.0.0.1:0"}, "flag provided but not defined: -adr"},
		{[]string{"-max-depth", "deep"}, "invalid value"},
		{[]string{"hash-password", "-x"}, "flag provided but not defined: -x"},
		{[]string{"version", "now"}, `unexpected argument "now"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runBitgate(t, map[string]string{"ADDR": "127.0.0.1:0"}, tc.args...)
			require.Equal(t, 2, r.status, "bitgate %q exit status; stderr: %s", tc.args, r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Contains(t, r.stderr, `Run "bitgate -h" for help.`)
			require.Empty(t, r.stdout)
			require.NoDirExists(t, filepath.Join(r.dir, "data"), "bitgate %q opened a database", tc.args)
		})
	}
}

// TestOtherErrorsExitOne: a valid command line that fails (here, a
// setting) exits 1, not 2.
func TestOtherErrorsExitOne(t *testing.T) {
	t.Parallel()
	r := runBitgate(t, map[string]string{"APP_ENV": "staging"})
	require.Equal(t, 1, r.status, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, "APP_ENV must be development or production")
}

// TestVersion prints the Go version and the modules of the build.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := runBitgate(t, nil, "version")
	require.Equal(t, 0, r.status, "stderr: %s", r.stderr)
	require.Regexp(t, `(?m)^bitgate +\S+$`, r.stdout)
	require.Contains(t, r.stdout, runtime.Version())
	for _, mod := range []string{"github.com/99designs/gqlgen", "entgo.io/ent", "github.com/golang-jwt/jwt/v5", "golang.org/x/crypto"} {
		require.Regexp(t, `(?m)^`+regexp.QuoteMeta(mod)+` +v\S+$`, r.stdout)
	}
}
