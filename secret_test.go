package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// configInTempDir parses a configuration from env (and args) with the data
// dir and any secret file placed in a fresh temporary directory: "$DIR" in
// values is replaced by that directory.
func configInTempDir(t testing.TB, env map[string]string, args ...string) (*config, string, error) {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"DATA_DIR": filepath.Join(dir, "data")}
	for k, v := range env {
		vars[k] = strings.ReplaceAll(v, "$DIR", dir)
	}
	var argv []string
	for _, a := range args {
		argv = append(argv, strings.ReplaceAll(a, "$DIR", dir))
	}
	cfg, err := parseConfig("bitgate", argv, func(k string) string { return vars[k] }, nil)
	return cfg, dir, err
}

func TestSigningSecret(t *testing.T) {
	t.Parallel()
	s31, s32 := strings.Repeat("k", 31), strings.Repeat("k", 32)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		file    *string // content of $DIR/secret, if any
		want    string  // the secret; "" with wantErr == "" means generated
		wantErr string
	}{
		{name: "production without a secret", env: map[string]string{"APP_ENV": "production"}, wantErr: "JWT_SECRET"},
		{name: "production with 31 bytes", env: map[string]string{"APP_ENV": "production", "JWT_SECRET": s31}, wantErr: "at least 32 bytes"},
		{name: "production with 32 bytes", env: map[string]string{"APP_ENV": "production", "JWT_SECRET": s32}, want: s32},
		{name: "production by flag", env: map[string]string{"JWT_SECRET": s31}, args: []string{"-env", "production"}, wantErr: "at least 32 bytes"},
		{name: "development accepts a short secret", env: map[string]string{"JWT_SECRET": "short"}, want: "short"},
		{name: "secret file trimmed", env: map[string]string{"APP_ENV": "production", "JWT_SECRET_FILE": "$DIR/secret"}, file: new(s32 + "\r\n"), want: s32},
		{name: "secret file by flag", args: []string{"-jwt-secret-file", "$DIR/secret"}, file: new(s32 + "\n"), want: s32},
		{name: "secret file keeps inner bytes", env: map[string]string{"JWT_SECRET_FILE": "$DIR/secret"}, file: new("a b\x00c\n"), want: "a b\x00c"},
		{name: "secret file of 31 bytes and a newline in production", env: map[string]string{"APP_ENV": "production", "JWT_SECRET_FILE": "$DIR/secret"}, file: new(s31 + "\n"), wantErr: "at least 32 bytes"},
		{name: "empty secret file", env: map[string]string{"JWT_SECRET_FILE": "$DIR/secret"}, file: new("\n"), wantErr: "empty"},
		{name: "missing secret file", env: map[string]string{"JWT_SECRET_FILE": "$DIR/nope"}, wantErr: "JWT_SECRET_FILE"},
		{name: "JWT_SECRET wins over the file", env: map[string]string{"JWT_SECRET": s32 + "x", "JWT_SECRET_FILE": "$DIR/nope"}, want: s32 + "x"},
		{name: "development generates one", env: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, dir, err := configInTempDir(t, tc.env, tc.args...)
			require.NoError(t, err, "parseConfig")
			if tc.file != nil {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte(*tc.file), 0o600))
			}
			got, err := signingSecret(cfg)
			generated := filepath.Join(cfg.DataDir, secretFileName)
			if tc.wantErr != "" {
				require.Error(t, err, "signingSecret() = %q, want an error", got)
				require.Contains(t, err.Error(), tc.wantErr)
				require.NoFileExists(t, generated, "a secret was generated although configuration failed")
				return
			}
			require.NoError(t, err)
			if tc.want != "" {
				require.Equal(t, tc.want, string(got), "signingSecret()")
				require.NoFileExists(t, generated, "a secret was generated although one was configured")
				return
			}
			require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), string(got), "generated secret")
			fi, err := os.Stat(generated)
			require.NoError(t, err, "generated secret not kept in the data dir")
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode of %s", generated)
			again, err := signingSecret(cfg)
			require.NoError(t, err)
			require.Equal(t, got, again, "second start read a different secret")
			onDisk, err := os.ReadFile(generated)
			require.NoError(t, err)
			require.Equal(t, got, bytes.TrimSpace(onDisk))
		})
	}
}

func TestSigningSecretConcurrentFirstStart(t *testing.T) {
	t.Parallel()
	cfg, _, err := configInTempDir(t, nil)
	require.NoError(t, err)
	const n = 8
	got := make(chan []byte, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			k, err := signingSecret(cfg)
			got <- k
			errs <- err
		}()
	}
	var first []byte
	for range n {
		require.NoError(t, <-errs)
		k := <-got
		if first == nil {
			first = k
		}
		require.Equal(t, first, k, "two processes starting at once got different secrets")
	}
}

func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unknown APP_ENV", map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{"negative AUTH_RATE", map[string]string{"AUTH_RATE": "-1"}, "AUTH_RATE"},
		{"bad TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, not-an-ip"}, "TRUSTED_PROXIES"},
		{"bad REFRESH_REUSE_GRACE", map[string]string{"REFRESH_REUSE_GRACE": "ten seconds"}, "REFRESH_REUSE_GRACE"},
		{"TLS cert without key", map[string]string{"TLS_CERT_FILE": "c.pem"}, "TLS_KEY_FILE"},
		{"IPv6 prefix 0", map[string]string{"RATE_LIMIT_IPV6_PREFIX": "0"}, "RATE_LIMIT_IPV6_PREFIX"},
		{"no sessions per user", map[string]string{"MAX_SESSIONS_PER_USER": "0"}, "MAX_SESSIONS_PER_USER"},
		{"IPv6 prefix 129", map[string]string{"RATE_LIMIT_IPV6_PREFIX": "129"}, "RATE_LIMIT_IPV6_PREFIX"},
		{"any origin", map[string]string{"CORS_ORIGINS": "https://a.example, *"}, "CORS_ORIGINS"},
		{"an origin pattern", map[string]string{"CORS_ORIGINS": "https://*.example.com"}, "CORS_ORIGINS"},
		{"an origin without scheme", map[string]string{"CORS_ORIGINS": "app.example"}, "CORS_ORIGINS"},
		{"an origin with a path", map[string]string{"CORS_ORIGINS": "https://app.example/app"}, "CORS_ORIGINS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := configInTempDir(t, tc.env)
			require.Error(t, err, "parseConfig(%v) = nil error", tc.env)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}

	cfg, _, err := configInTempDir(t, map[string]string{
		"CORS_ORIGINS": " https://a.example, ,https://b.example ", "TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
	})
	require.NoError(t, err)
	require.Equal(t, []string{"https://a.example", "https://b.example"}, cfg.App.HTTP.CORSOrigins)
	require.Len(t, cfg.App.HTTP.TrustedProxies, 2)
	require.Equal(t, "10.0.0.1/32", cfg.App.HTTP.TrustedProxies[0].String())
	require.False(t, cfg.App.Production(), "development is the default")
}
