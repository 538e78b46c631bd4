package graph_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// fuzzMethods and fuzzPaths are what the method byte chooses from: its low
// three bits pick the method, the rest the path.
var (
	fuzzMethods = []string{
		http.MethodGet, http.MethodPost, http.MethodPut, http.MethodOptions,
		http.MethodHead, http.MethodDelete, http.MethodPatch, http.MethodPost,
	}
	fuzzPaths = []string{"/graphql", "/graphql", "/graphql", "/", "/healthz", "/readyz", "/nope"}
)

// asHeaderValue drops from v the bytes a header value cannot hold at all
// (the client refuses control characters).
func asHeaderValue(v string) string {
	return strings.Map(func(r rune) rune {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// FuzzHandler sends arbitrary requests to the whole handler: a method and
// path (chosen by one byte), an Authorization header ("$TOKEN" in it is
// replaced by a valid access token), a Content-Type and a body (for GET,
// the body is the query parameter). No answer may be 5xx, every GraphQL
// error must carry a contract code, nothing may be logged as an internal
// error, and the server must still answer a plain query afterwards.
func FuzzHandler(f *testing.F) {
	logs := &apitest.Log{}
	c := apitest.New(f, apitest.Options{Log: logs})
	user := c.SignUpAs(f, "fuzz@example.com")

	const ctJSON = "application/json"
	for _, seed := range []struct {
		method      byte
		authz, ctyp string
		body        string
	}{
		{1, "", ctJSON, `{"query":"{ __typename }"}`},
		{0, "", "", `{ book(id: "00000000-0000-0000-0000-000000000000") { id title } }`},
		{1, "Bearer $TOKEN", ctJSON, `{"query":"{ me { id email permissions } notes(first: 5) { totalCount edges { cursor node { id owner { id } } } } }"}`},
		{1, "", ctJSON + "; charset=utf-8", `{"query":"mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken } }","variables":{"e":"fuzz@example.com","p":"nope"}}`},
		{1, "Bearer $TOKEN", ctJSON, `{"query":"mutation { createNote(input: {title: \"t\", content: \"c\"}) { id } }"}`},
		{1, "Bearer", ctJSON, `{"query":"{ me { id } }"}`},
		{1, "Basic Zm9vOmJhcg==", "text/plain", `{"query":"{ __typename }"}`},
		{1, "", ctJSON, `[{"query":"{ __typename }"},{"query":"{ __typename }"}]`},
		{1, "", ctJSON, `{"query":"query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"}`},
		{1, "Bearer $TOKEN", ctJSON, `{"query":"query($f: Int) { books(first: $f) { totalCount } }","variables":{"f":"abc"}}`},
		{1, "", ctJSON, "{\"query\":\"{ book(id: \\\"\xff\xfe\\\") { id } }\"}"},
		{3, "", "", ""},
		{8, "", "", ""},
		{1, "Bearer $TOKEN", "application/graphql-response+json", `{"query":"{ users(first: 101) { totalCount } }"}`},
	} {
		f.Add(seed.method, seed.authz, seed.ctyp, []byte(seed.body))
	}

	f.Fuzz(func(t *testing.T, method byte, authz, ctype string, body []byte) {
		authz = asHeaderValue(strings.ReplaceAll(authz, "$TOKEN", user.Token))
		ctype = asHeaderValue(ctype)
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path := fuzzPaths[int(method>>3)%len(fuzzPaths)]
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if ctype != "" {
			h.Set("Content-Type", ctype)
		}
		if m == http.MethodGet {
			path += "?query=" + url.QueryEscape(string(body))
			body = nil
		}
		logs.Take()
		r, err := c.Send(m, path, h, body)
		require.NoError(t, err, "%s %s", m, path)
		require.Less(t, r.Status, 500, "%s %s: %s", m, path, r.Body)
		if !bytes.Contains(body, []byte("goroutine")) {
			require.NotContains(t, string(r.Body), "goroutine ", "stack trace in answer")
		}
		for _, e := range r.Errors {
			require.True(t, apitest.Codes[e.Code()], "error without a contract code: %s", r.Body)
			if e.Code() == "RATE_LIMITED" {
				require.NotNil(t, e.Extensions["retryAfter"], "RATE_LIMITED without retryAfter: %s", r.Body)
			}
		}
		if r.Status >= 400 && m != http.MethodHead && strings.Contains(r.Header.Get("Content-Type"), "json") {
			require.NotEmpty(t, r.Errors, "4xx without errors: %s", r.Body)
		}
		for _, line := range strings.Split(logs.Take(), "\n") {
			require.NotContains(t, line, "level=ERROR", "%s %s %q logged an error", m, path, body)
		}
		c.RequireServes(t)
	})
}
