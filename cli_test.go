package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain runs bitgate's own main instead of the tests when the test
// binary is started by runBitgate, so that the tests see real exit
// statuses and output.
func TestMain(m *testing.M) {
	if os.Getenv("BITGATE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cliResult is what a bitgate process printed and how it exited.
type cliResult struct {
	stdout, stderr string
	status         int
}

// runBitgate runs bitgate (this test binary, turned into main by TestMain)
// with args and only the environment env, in a fresh working directory,
// and waits at most 30 seconds for it to exit.
func runBitgate(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = t.TempDir()
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
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.ExitCode()}
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
	_, err := parseConfig("bitgate", []string{"-jwt-secret", strings.Repeat("k", 32)}, func(string) string { return "" }, &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "flag provided but not defined: -jwt-secret")
	getenv := func(k string) string { return map[string]string{"JWT_SECRET": "from the environment"}[k] }
	cfg, err := parseConfig("bitgate", nil, getenv, &bytes.Buffer{}, nil)
	require.NoError(t, err)
	require.Equal(t, "from the environment", cfg.JWTSecret)
}
