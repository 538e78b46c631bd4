package httpapi_test

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// pageAssets matches the scripts and stylesheets a page loads.
var pageAssets = regexp.MustCompile(`<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"`)

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(t *testing.T, policy string) map[string][]string {
	t.Helper()
	d := map[string][]string{}
	for _, part := range strings.Split(policy, ";") {
		fields := strings.Fields(part)
		if len(fields) > 0 {
			d[fields[0]] = fields[1:]
		}
	}
	require.NotEmpty(t, d["default-src"], "policy without default-src: %s", policy)
	return d
}

// requireNoOtherHost fails if a policy allows any source but this server,
// data: URLs, nonces and keywords.
func requireNoOtherHost(t *testing.T, policy string) {
	t.Helper()
	for name, sources := range cspDirectives(t, policy) {
		for _, src := range sources {
			ok := src == "data:" || (strings.HasPrefix(src, "'") && strings.HasSuffix(src, "'"))
			require.True(t, ok, "%s allows %s: %s", name, src, policy)
			require.NotContains(t, []string{"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"}, src,
				"%s allows %s: %s", name, src, policy)
		}
	}
}

func TestPlayground(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	r := s.Raw(t, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "GET /: %s", r.Body)
	require.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
	page := string(r.Body)
	require.Contains(t, page, `data-endpoint="/graphql"`, "the page does not point at /graphql")
	require.NotRegexp(t, `<script(\s[^>]*)?>[^<]`, page, "the page has an inline script")
	require.NotContains(t, page, "style=", "the page has an inline style")

	t.Run("its policy names no other host and allows no inline script", func(t *testing.T) {
		policy := r.Header.Get("Content-Security-Policy")
		requireNoOtherHost(t, policy)
		d := cspDirectives(t, policy)
		require.Equal(t, []string{"'none'"}, d["default-src"], policy)
		require.Equal(t, []string{"'self'"}, d["script-src"], policy)
		require.Equal(t, []string{"'self'"}, d["connect-src"], policy)
		require.Equal(t, []string{"'none'"}, d["frame-ancestors"], policy)

		// Inline styles only with the response's own nonce, which the page
		// hands to GraphiQL.
		require.Len(t, d["style-src"], 2, policy)
		nonce := strings.TrimSuffix(strings.TrimPrefix(d["style-src"][1], "'nonce-"), "'")
		require.GreaterOrEqual(t, len(nonce), 22, "nonce too short: %s", policy)
		require.Contains(t, page, `<meta name="style-nonce" content="`+nonce+`">`)
		again := s.Raw(t, http.MethodGet, "/", nil, nil).Header.Get("Content-Security-Policy")
		require.NotEqual(t, policy, again, "two pages share a nonce")
	})

	refs := pageAssets.FindAllStringSubmatch(page, -1)
	require.GreaterOrEqual(t, len(refs), 5, "the page loads too few assets: %s", page)
	for _, ref := range refs {
		url := ref[1]
		if strings.HasPrefix(url, "data:") {
			continue // the empty favicon
		}
		t.Run(url, func(t *testing.T) {
			require.True(t, strings.HasPrefix(url, "/playground/"), "asset from elsewhere: %s", url)
			a := s.Raw(t, http.MethodGet, url, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "GET %s: %s", url, a.Body)
			want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[path.Ext(url)]
			require.NotEmpty(t, want, "unexpected kind of asset %s", url)
			require.Equal(t, want, a.Header.Get("Content-Type"), url)
			require.Equal(t, "nosniff", a.Header.Get("X-Content-Type-Options"), url)
			requireNoOtherHost(t, a.Header.Get("Content-Security-Policy"))

			onDisk, err := os.ReadFile(filepath.Join("..", "playground", "assets", strings.TrimPrefix(url, "/playground/")))
			require.NoError(t, err)
			require.Equal(t, onDisk, a.Body, "%s is not the file in the repository", url)

			if strings.HasPrefix(url, "/playground/vendor/") {
				require.Contains(t, a.Header.Get("Cache-Control"), "immutable", url)
				license := path.Dir(url) + "/LICENSE"
				l := s.Raw(t, http.MethodGet, license, nil, nil)
				require.Equal(t, http.StatusOK, l.Status, "no licence beside %s", url)
				require.Contains(t, string(l.Body), "Permission is hereby granted", license)
			}
		})
	}

	t.Run("nothing else", func(t *testing.T) {
		for _, url := range []string{
			"/playground/", "/playground/vendor/", "/playground/vendor/react@18.3.1",
			"/playground/index.html", "/playground/nope.js", "/index.html",
		} {
			got := s.Raw(t, http.MethodGet, url, nil, nil)
			require.Equal(t, http.StatusNotFound, got.Status, "GET %s: %s", url, got.Body)
			require.NotContains(t, string(got.Body), "react", "GET %s lists files", url)
		}
	})
}

func TestPlaygroundProduction(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{Production: true})
	for _, url := range []string{"/", "/playground/playground.js", "/playground/vendor/graphiql@4.1.2/graphiql.min.js"} {
		r := s.Raw(t, http.MethodGet, url, nil, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "GET %s in production: %s", url, r.Body)
		require.NotContains(t, strings.ToLower(string(r.Body)), "graphiql", url)
	}
}
