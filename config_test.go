package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	require.Equal(t, "NORMAL", c.App.Database.Synchronous)
}

// TestParseConfigFromEnvAndFlags reads settings from the environment, with
// flags taking precedence.
func TestParseConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"ADDR": ":9000", "REFRESH_REUSE_GRACE": "1s", "APP_ENV": "production",
		"DATABASE_URL": "postgres://u@h/db", "CORS_ORIGINS": "https://a.example, https://b.example",
		"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "AUTH_RATE": "0.5", "MAX_QUERY_DEPTH": "9",
		"RATE_LIMIT_IPV6_PREFIX": "56", "SQLITE_SYNCHRONOUS": "full",
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
