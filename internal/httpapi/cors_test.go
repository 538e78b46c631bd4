package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// apolloHeaders are the request headers of an Apollo Client app that sets
// clientAwareness and Apollo's CSRF header, as a browser lists them in a
// preflight.
const apolloHeaders = "apollo-require-preflight,apollographql-client-name,apollographql-client-version,authorization,content-type,x-request-id"

// corsPreflight sends the preflight a browser sends before a POST from origin
// carrying headers.
func corsPreflight(t *testing.T, s *apitest.Client, origin, headers string) *apitest.Response {
	t.Helper()
	return s.Raw(t, http.MethodOptions, "/graphql", http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {http.MethodPost},
		"Access-Control-Request-Headers": {headers},
	}, nil)
}

// requireNoCORS fails if a response grants origin anything.
func requireNoCORS(t *testing.T, r *apitest.Response, what string) {
	t.Helper()
	for name := range r.Header {
		require.False(t, strings.HasPrefix(name, "Access-Control-"), "%s: %s: %s", what, name, r.Header.Get(name))
	}
}

func TestCORSClientLibraries(t *testing.T) {
	t.Parallel()
	const app = "https://app.example"
	s := apitest.New(t, apitest.Options{CORSOrigins: []string{app}})

	t.Run("a preflight with Apollo's headers from an allowed origin", func(t *testing.T) {
		r := corsPreflight(t, s, app, apolloHeaders)
		require.Equal(t, http.StatusNoContent, r.Status)
		require.Equal(t, app, r.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, r.Header.Get("Access-Control-Allow-Methods"), http.MethodPost)
		allowed := strings.Split(r.Header.Get("Access-Control-Allow-Headers"), ",")
		require.ElementsMatch(t, strings.Split(apolloHeaders, ","), allowed)
		require.Contains(t, r.Header.Get("Vary"), "Origin")
	})

	t.Run("each header a client library may send", func(t *testing.T) {
		for _, h := range []string{
			"accept", "content-type", "authorization", "x-request-id", // urql, Relay, graphql-request
			"apollographql-client-name", "apollographql-client-version", // Apollo clientAwareness
			"apollographql-library-name", "apollographql-library-version", // Apollo enhancedClientAwareness over headers
			"apollo-require-preflight", "x-apollo-operation-name", // Apollo's CSRF headers
		} {
			r := corsPreflight(t, s, app, h)
			require.Equal(t, app, r.Header.Get("Access-Control-Allow-Origin"), h)
			require.Equal(t, h, r.Header.Get("Access-Control-Allow-Headers"), h)
		}
	})

	t.Run("the same preflight from another origin", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example", "http://app.example", "https://app.example.evil.example", "null"} {
			requireNoCORS(t, corsPreflight(t, s, origin, apolloHeaders), origin)
		}
	})

	t.Run("a header no client sends", func(t *testing.T) {
		requireNoCORS(t, corsPreflight(t, s, app, "content-type,x-forwarded-for"), "x-forwarded-for")
	})

	t.Run("the request itself exposes X-Request-ID", func(t *testing.T) {
		r := s.Raw(t, http.MethodPost, "/graphql", http.Header{
			"Origin":                       {app},
			"Content-Type":                 {"application/json"},
			"Apollographql-Client-Name":    {"web"},
			"Apollographql-Client-Version": {"1.0.0"},
			"Apollo-Require-Preflight":     {"true"},
		}, []byte(`{"query":"{ __typename }"}`))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Equal(t, app, r.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "X-Request-Id", r.Header.Get("Access-Control-Expose-Headers"))
		require.NotEmpty(t, r.Header.Get("X-Request-ID"))
		require.Contains(t, r.Header.Get("Vary"), "Origin", "a cache could serve one origin's answer to another")

		r = s.Raw(t, http.MethodPost, "/graphql", http.Header{
			"Origin": {"https://evil.example"}, "Content-Type": {"application/json"},
		}, []byte(`{"query":"{ __typename }"}`))
		requireNoCORS(t, r, "POST from another origin")
	})
}

// TestCORS: no origin may call from a browser unless CORS_ORIGINS lists
// it, and then only exactly that origin.
func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(t *testing.T, c *apitest.Client, origin string) *apitest.Response {
		t.Helper()
		return corsPreflight(t, c, origin, "authorization, content-type")
	}
	post := func(t *testing.T, c *apitest.Client, origin string) *apitest.Response {
		t.Helper()
		return c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Origin", origin), []byte(`{"query":"{ __typename }"}`))
	}

	t.Run("no origin is allowed by default", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		require.Empty(t, preflight(t, c, "https://evil.example").Header.Get("Access-Control-Allow-Origin"), "default CORS allows any origin (preflight)")
		require.Empty(t, post(t, c, "https://evil.example").Header.Get("Access-Control-Allow-Origin"), "default CORS allows any origin (POST)")
	})

	t.Run("an allow-list", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, apitest.Options{CORSOrigins: []string{"https://app.example"}})
		r := preflight(t, c, "https://app.example")
		require.Less(t, r.Status, 300)
		require.Equal(t, "https://app.example", r.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "authorization")
		r = post(t, c, "https://app.example")
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "https://app.example", r.Header.Get("Access-Control-Allow-Origin"))
		for _, evil := range []string{"https://evil.example", "https://app.example.evil.example", "http://app.example"} {
			require.Empty(t, preflight(t, c, evil).Header.Get("Access-Control-Allow-Origin"), evil)
			require.Empty(t, post(t, c, evil).Header.Get("Access-Control-Allow-Origin"), evil)
		}
	})
}
