package main

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bitgate/internal/settings"
)

// TestParseConfigDefaults holds the defaults to the contract: :8080, a
// SQLite file under ./data, 15-minute access tokens, 30-day sessions and a
// 10-second reuse grace.
func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig("t", nil, func(string) string { return "" }, nil)
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "file:data/bitgate.db", c.App.DatabaseURL)
	require.Equal(t, 15*time.Minute, c.App.Tokens.AccessTTL)
	require.Equal(t, 30*24*time.Hour, c.App.Accounts.RefreshTTL)
	require.Equal(t, 10*time.Second, c.App.Accounts.ReuseGrace)
	require.False(t, c.App.Production())
	require.Empty(t, c.App.HTTP.CORSOrigins)
	require.Empty(t, c.App.HTTP.TrustedProxies)
	require.Equal(t, 64, c.App.Accounts.IPv6Prefix)
	require.Equal(t, 30, c.App.Accounts.MaxSessions)
	require.Equal(t, "NORMAL", c.App.Database.Synchronous)
}

// TestParseConfigFromEnvAndFlags reads settings from the environment, with
// flags taking precedence.
func TestParseConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"ADDR": ":9000", "REFRESH_REUSE_GRACE": "1s", "APP_ENV": "production",
		"DATABASE_URL": "postgres://u@h/db", "CORS_ORIGINS": "https://a.example, https://b.example",
		"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "AUTH_RATE": "0.5", "MAX_QUERY_DEPTH": "9",
		"RATE_LIMIT_IPV6_PREFIX": "56", "SQLITE_SYNCHRONOUS": "full", "MAX_SESSIONS_PER_USER": "5",
	}
	c, err := parseConfig("t", []string{"-addr", ":9001"}, func(k string) string { return env[k] }, nil)
	require.NoError(t, err)
	require.Equal(t, ":9001", c.Addr, "a flag beats the environment")
	require.Equal(t, time.Second, c.App.Accounts.ReuseGrace)
	require.True(t, c.App.Production())
	require.Equal(t, "postgres://u@h/db", c.App.DatabaseURL)
	require.Equal(t, []string{"https://a.example", "https://b.example"}, c.App.HTTP.CORSOrigins)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}, c.App.HTTP.TrustedProxies)
	require.Equal(t, 0.5, c.App.RateLimit.Rate)
	require.Equal(t, 9, c.App.GraphQL.MaxDepth)
	require.Equal(t, 56, c.App.Accounts.IPv6Prefix)
	require.Equal(t, 5, c.App.Accounts.MaxSessions)
	require.Equal(t, "FULL", c.App.Database.Synchronous)

	_, err = parseConfig("t", nil, func(k string) string { return map[string]string{"SQLITE_SYNCHRONOUS": "OFF"}[k] }, nil)
	require.ErrorContains(t, err, "SQLITE_SYNCHRONOUS must be NORMAL or FULL")
}

// TestPersistedDocumentsOnlyNeedsDocuments refuses to run only trusted
// documents without any, and reads the list of manifests.
func TestPersistedDocumentsOnlyNeedsDocuments(t *testing.T) {
	env := map[string]string{"PERSISTED_DOCUMENTS_ONLY": "true"}
	_, err := parseConfig("t", nil, func(k string) string { return env[k] }, nil)
	require.ErrorContains(t, err, "PERSISTED_DOCUMENTS")
	env["PERSISTED_DOCUMENTS"] = "a.json, b.json"
	c, err := parseConfig("t", nil, func(k string) string { return env[k] }, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a.json", "b.json"}, c.App.Documents.Files)
	require.True(t, c.App.Documents.Only)
}

// settingsDoc is the file whose settings table (the one headed
// "| flag | environment | default | meaning |") TestSettingsTable holds
// to the declarations.
const settingsDoc = "docs/configuration.md"

// TestSettingsTable: every declared setting has a row in the docs'
// settings table with its flag ("(none)" for an environment-only one),
// its variable and, when it declares one, its default; and every row is a
// declared setting. Adding a setting without its row, or a row without
// its setting, fails here.
func TestSettingsTable(t *testing.T) {
	doc, err := os.ReadFile(settingsDoc)
	require.NoError(t, err)
	type row struct{ flag, def string }
	rows := map[string]row{} // by environment variable
	in := false
	for line := range strings.Lines(string(doc)) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case strings.Join(cells, "|") == "flag|environment|default|meaning":
			in = true
		case !strings.HasPrefix(line, "|"):
			in = false
		case in && !strings.HasPrefix(cells[0], "---"):
			require.Len(t, cells, 4, "%s: a row of the settings table: %s", settingsDoc, line)
			env := strings.Trim(cells[1], "`")
			require.NotContains(t, rows, env, "%s: two rows for %s", settingsDoc, env)
			rows[env] = row{cells[0], cells[2]}
		}
	}
	require.NotEmpty(t, rows, "%s has no settings table", settingsDoc)
	for _, s := range settings.New(new(config)).Settings {
		r, ok := rows[s.Env]
		if !assert.True(t, ok, "%s: no row for %s (-%s)", settingsDoc, s.Env, s.Flag) {
			continue
		}
		delete(rows, s.Env)
		flagCell := "(none)"
		if s.Flag != "" {
			flagCell = "`-" + s.Flag + "`"
		}
		assert.Equal(t, flagCell, r.flag, "%s: the flag of %s", settingsDoc, s.Env)
		if s.Default != "" {
			assert.Equal(t, "`"+s.Default+"`", r.def, "%s: the default of %s", settingsDoc, s.Env)
		}
	}
	assert.Empty(t, rows, "%s: rows for settings nobody declares", settingsDoc)
}

// TestSettingsAreDistinct: no two settings share a flag or a variable,
// and each says what it does.
func TestSettingsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range settings.New(new(config)).Settings {
		for _, name := range []string{"-" + s.Flag, s.Env} {
			require.False(t, seen[name] && name != "-", "%s is declared twice", name)
			seen[name] = true
		}
		require.NotEmpty(t, s.Help, s.Env)
	}
}
