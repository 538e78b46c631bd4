package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browserCheckDir holds the browser checks: Node scripts that drive
// Debian's headless Chromium with playwright-core (npm ci installs it).
const browserCheckDir = "internal/playground/browsercheck"

// TestBrowserChecks runs the browser checks against a server of its own in
// Debian's headless Chromium: check.mjs uses the playground as a person
// would (offline, no token stored, the TOTP flow), and passkeys.mjs
// registers a passkey in Chromium's virtual authenticator and signs in with
// it. The passkeys' relying party is localhost, so that page is of
// http://localhost:PORT. Without Chromium, Node 20 or the harness the test
// is skipped, and fails instead when CI is set.
func TestBrowserChecks(t *testing.T) {
	node := browserTools(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	s := startServerOn(t, ln, "-webauthn-rp-id", "localhost", "-webauthn-origins", origin)
	for _, c := range []struct{ script, baseURL string }{
		{"check.mjs", s.url},
		{"passkeys.mjs", origin},
	} {
		t.Run(c.script, func(t *testing.T) {
			// Stat the script, so that go test's cache keys on it.
			_, err := os.Stat(filepath.Join(browserCheckDir, c.script))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, c.script)
			cmd.Dir = browserCheckDir
			cmd.Env = append(os.Environ(), "BASE_URL="+c.baseURL)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			t.Logf("%s against %s, %s:\n%s", c.script, c.baseURL, time.Since(start).Round(time.Millisecond), out)
			require.NoError(t, err, "%s failed (the server's log is above)", c.script)
		})
	}
	if t.Failed() {
		t.Logf("server log:\n%s", s.log)
	}
}

// browserTools returns Node's path once Chromium, Node 20 or later and
// the harness are there; it skips the test when one is missing, or fails
// it when CI is set (.ci/run installs them).
func browserTools(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		why := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI is set, so the browser checks must run", why)
		}
		t.Skipf("browser checks skipped: %s", why)
	}
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		missing("no %s (apt-get install chromium)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node (apt-get install nodejs)")
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		missing("%s --version: %v", node, err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0])
	if major < 20 {
		missing("node %s: playwright-core needs 20 or later", strings.TrimSpace(string(v)))
	}
	if _, err := os.Stat(filepath.Join(browserCheckDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing("no playwright-core (cd %s && npm ci)", browserCheckDir)
	}
	return node
}
