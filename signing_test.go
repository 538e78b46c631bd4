package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/app"
	"bitgate/internal/keys"
)

// signingSetup parses env (see configInTempDir) and returns the signing
// configuration signingConfig makes of it, with the log it wrote.
func signingSetup(t *testing.T, env map[string]string) (app.Signing, string, error) {
	t.Helper()
	cfg, _, err := configInTempDir(t, env)
	require.NoError(t, err, "parseConfig")
	var logs bytes.Buffer
	sg, err := signingConfig(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	return sg, logs.String(), err
}

// TestSigningKeysHS256Previous reads the previous secret from the
// environment or a file, and refuses a short one in production.
func TestSigningKeysHS256Previous(t *testing.T) {
	t.Parallel()
	cur, prev := strings.Repeat("n", 32), strings.Repeat("o", 32)
	_, _, err := signingSetup(t, map[string]string{"JWT_SECRET": cur, "JWT_SECRET_PREVIOUS_FILE": "$DIR/prev"})
	require.ErrorContains(t, err, "JWT_SECRET_PREVIOUS_FILE", "a missing file")

	sg, _, err := signingSetup(t, map[string]string{"JWT_SECRET": cur, "JWT_SECRET_PREVIOUS": prev})
	require.NoError(t, err)
	require.Equal(t, app.Signing{Alg: "HS256", Secret: []byte(cur), PreviousSecret: []byte(prev)}, sg)

	sg, _, err = signingSetup(t, map[string]string{"JWT_SECRET_FILE": "$DIR/cur", "JWT_SECRET_PREVIOUS": prev})
	require.ErrorContains(t, err, "JWT_SECRET_FILE", "%+v", sg)

	_, _, err = signingSetup(t, map[string]string{"APP_ENV": "production", "JWT_SECRET": cur, "JWT_SECRET_PREVIOUS": "short"})
	require.ErrorContains(t, err, "previous signing secret of at least 32 bytes")
}

// TestSigningKeysEdDSA needs a KEK in production, takes it from the
// environment or a file, and in development generates one beside the
// database with a warning.
func TestSigningKeysEdDSA(t *testing.T) {
	t.Parallel()
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))

	_, _, err := signingSetup(t, map[string]string{"JWT_ALG": "EdDSA", "APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32)})
	require.ErrorContains(t, err, "JWT_KEY_ENCRYPTION_KEY", "production without a KEK")

	sg, logs, err := signingSetup(t, map[string]string{"JWT_ALG": "EdDSA", "APP_ENV": "production", "JWT_KEY_ENCRYPTION_KEY": kek})
	require.NoError(t, err)
	require.Equal(t, app.Signing{Alg: "EdDSA", KEK: bytes.Repeat([]byte{3}, 32)}, sg)
	require.NotContains(t, logs, "is not set")

	_, _, err = signingSetup(t, map[string]string{"JWT_ALG": "EdDSA", "JWT_KEY_ENCRYPTION_KEY": "c2hvcnQ="})
	require.ErrorContains(t, err, "JWT_KEY_ENCRYPTION_KEY: key-encryption key is 5 bytes")

	cfg, _, err := configInTempDir(t, map[string]string{"JWT_ALG": "EdDSA"})
	require.NoError(t, err)
	var log bytes.Buffer
	got, err := keyEncryptionKey(cfg, slog.New(slog.NewTextHandler(&log, nil)))
	require.NoError(t, err)
	require.Len(t, got, 32)
	require.Contains(t, log.String(), "JWT_KEY_ENCRYPTION_KEY is not set")
	path := filepath.Join(cfg.DataDir, kekFileName)
	fi, err := os.Stat(path)
	require.NoError(t, err, "the generated KEK is kept in the data dir")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	again, err := keyEncryptionKey(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, got, again, "the second start reads the same KEK")

	cfg.Secrets.KEKFile = path // the file variant reads what was generated
	fromFile, err := keyEncryptionKey(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, got, fromFile)
}

// TestParseConfigJWTAlg accepts HS256 (the default) and EdDSA only.
func TestParseConfigJWTAlg(t *testing.T) {
	t.Parallel()
	cfg, _, err := configInTempDir(t, nil)
	require.NoError(t, err)
	require.Equal(t, "HS256", cfg.App.Signing.Alg)
	for _, alg := range []string{"none", "RS256", "eddsa", "HS512"} {
		_, _, err := configInTempDir(t, map[string]string{"JWT_ALG": alg})
		require.ErrorContains(t, err, "JWT_ALG", "JWT_ALG=%s", alg)
	}
}

// TestKeysCommand lists and rotates the EdDSA keys as an operator would:
// the rotated key is pending, the first one current, and a server started
// on the same data signs with the first and publishes both.
func TestKeysCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "JWT_ALG": "EdDSA"}
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	require.NoError(t, run([]string{"keys", "list"}, getenv, nil, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "a header and the first key: %s", out.String())
	require.Contains(t, lines[1], " current ")
	first := strings.Fields(lines[1])[0]

	out.Reset()
	require.NoError(t, run([]string{"keys", "rotate"}, getenv, nil, &out, io.Discard))
	require.Contains(t, out.String(), "added key ")
	out.Reset()
	require.NoError(t, run([]string{"keys", "list"}, getenv, nil, &out, io.Discard))
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	require.Contains(t, lines[1], first)
	require.Contains(t, lines[1], " current ")
	require.Contains(t, lines[2], " pending ")

	cfg, err := parseConfig("serve", nil, getenv, nil)
	require.NoError(t, err)
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer a.Close()
	w := httptest.NewRecorder()
	a.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	require.Equal(t, http.StatusOK, w.Code)
	var set keys.JWKS
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &set))
	require.Len(t, set.Keys, 2, "the server publishes the current and the pending key")
	require.Equal(t, first, set.Keys[0].Kid)

	env["JWT_ALG"] = "HS256"
	require.ErrorContains(t, run([]string{"keys", "list"}, getenv, nil, io.Discard, io.Discard), "JWT_ALG=EdDSA")
	env["JWT_ALG"] = "EdDSA"
	for _, args := range [][]string{{"keys"}, {"keys", "delete"}, {"keys", "list", "extra"}} {
		err := run(args, getenv, nil, io.Discard, io.Discard)
		require.ErrorAs(t, err, new(usageError), "bitgate %v", args)
	}
	out.Reset()
	require.NoError(t, run([]string{"keys", "-h"}, getenv, nil, &out, io.Discard))
	require.Contains(t, out.String(), "bitgate keys list|rotate")
	require.Contains(t, out.String(), "JWT_KEY_ENCRYPTION_KEY")
}
