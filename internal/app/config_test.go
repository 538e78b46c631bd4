package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/app"
)

// TestConfigReachesTheServer sets a setting that apitest.Options has no
// field for through Options.Config: the server runs with it.
func TestConfigReachesTheServer(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.HTTP.MaxBodyBytes = 100 }})
	query := []byte(`{"query":"{ __typename }"}`)
	r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), query)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	padded := []byte(`{"query":"{ __typename }` + strings.Repeat(" ", 100) + `"}`)
	apitest.RequireTransportError(t, c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), padded), http.StatusRequestEntityTooLarge)
}

// TestNewRefusesInvalidSettings: New checks every section of the tree
// before it opens anything, and names the setting.
func TestNewRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		change func(*app.Config)
		want   string
	}{
		{func(c *app.Config) { c.Env = "staging" }, "APP_ENV must be development or production"},
		{func(c *app.Config) { c.HTTP.MaxInFlight = 0 }, "MAX_IN_FLIGHT must be positive"},
		{func(c *app.Config) { c.GraphQL.MaxDepth = 0 }, "MAX_QUERY_DEPTH must be positive"},
		{func(c *app.Config) { c.Database.CallTimeout = 0 }, "DB_TIMEOUT must be positive"},
		{func(c *app.Config) { c.Accounts.IPv6Prefix = 129 }, "RATE_LIMIT_IPV6_PREFIX must be 1 to 128"},
		{func(c *app.Config) { c.Documents.Only = true }, "PERSISTED_DOCUMENTS_ONLY needs PERSISTED_DOCUMENTS"},
	} {
		cfg := app.Defaults()
		cfg.DatabaseURL = "file:" + t.TempDir() + "/never-opened.db"
		tc.change(&cfg)
		_, err := app.New(context.Background(), cfg)
		require.ErrorContains(t, err, tc.want)
		require.NoFileExists(t, strings.TrimPrefix(cfg.DatabaseURL, "file:"), "New opened the database")
	}
}
