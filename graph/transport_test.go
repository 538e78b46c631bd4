package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/ent/book"
	"bitgate/internal/apitest"
)

// fakePassword is a secret a client might send in a body the server cannot
// read; no answer may echo it.
const fakePassword = "Fak3-Passw0rd-Never-Echoed"

// jsonHeader is the header of an ordinary GraphQL POST, with an optional
// bearer token.
func jsonHeader(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// requireHTTPError requires a transport-level refusal: the given status (or
// any 4xx when status is 0), a JSON body with a non-empty errors array, and
// no data.
func requireHTTPError(t testing.TB, r *apitest.Response, status int) {
	t.Helper()
	if status != 0 {
		require.Equal(t, status, r.Status, "status of %s", r.Body)
	} else {
		require.True(t, r.Status >= 400 && r.Status < 500, "status %d, want 4xx: %s", r.Status, r.Body)
	}
	require.Contains(t, r.Header.Get("Content-Type"), "json", "refusal is not JSON: %s", r.Body)
	require.NotEmpty(t, r.Errors, "refusal without errors: %s", r.Body)
	require.Contains(t, []string{"", "null"}, string(r.Data), "refusal with data: %s", r.Body)
}

// getQuery sends a GraphQL GET with the given URL parameters.
func getQuery(t testing.TB, s *apitest.Server, h http.Header, params url.Values) *apitest.Response {
	t.Helper()
	return s.Raw(t, http.MethodGet, "/graphql?"+params.Encode(), h, nil)
}

// TestTransport holds the HTTP side of /graphql to the GraphQL-over-HTTP
// rules of the contract.
func TestTransport(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	admin := s.User(t, "tr-admin@example.com", bitAdmin)
	b := mkBook(t, s, "Transported")
	bookQuery := `query($id: ID!) { book(id: $id) { id title } }`

	// booksTitled counts the books with title, to prove a refused mutation
	// did not run.
	booksTitled := func(t *testing.T, title string) int {
		t.Helper()
		n, err := s.Client.Book.Query().Where(book.Title(title)).Count(ctx)
		require.NoError(t, err)
		return n
	}
	createBook := func(title string) string {
		return `mutation { createBook(input: {title: "` + title + `", author: "x"}) { id } }`
	}

	t.Run("POST application/json", func(t *testing.T) {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
			body, _ := json.Marshal(map[string]any{"query": bookQuery, "variables": map[string]any{"id": b.ID}})
			r := s.Raw(t, http.MethodPost, "/graphql", http.Header{"Content-Type": {ct}}, body)
			require.Equal(t, http.StatusOK, r.Status, "Content-Type %s: %s", ct, r.Body)
			var out struct{ Book struct{ ID, Title string } }
			r.Decode(t, &out)
			require.Equal(t, b.ID.String(), out.Book.ID)
			require.Equal(t, "Transported", out.Book.Title)
		}
	})

	t.Run("GET query", func(t *testing.T) {
		r := getQuery(t, s, nil, url.Values{"query": {`{ book(id: "` + b.ID.String() + `") { id title } }`}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var out struct{ Book struct{ ID, Title string } }
		r.Decode(t, &out)
		require.Equal(t, b.ID.String(), out.Book.ID)

		r = getQuery(t, s, nil, url.Values{"query": {bookQuery}, "variables": {`{"id":"` + b.ID.String() + `"}`}})
		r.Decode(t, &out)
		require.Equal(t, "Transported", out.Book.Title)
	})

	t.Run("GET mutation is refused with a coded 4xx error", func(t *testing.T) {
		for name, params := range map[string]url.Values{
			"plain":          {"query": {createBook("via GET")}},
			"named mutation": {"query": {`query Q { __typename } mutation M ` + createBook("via GET")[len("mutation"):]}, "operationName": {"M"}},
		} {
			t.Run(name, func(t *testing.T) {
				r := getQuery(t, s, jsonHeader(admin.AccessToken), params)
				requireHTTPError(t, r, 0)
			})
		}
		require.Zero(t, booksTitled(t, "via GET"), "a mutation ran over GET")
	})

	t.Run("GET with undecodable variables gets a coded 4xx error", func(t *testing.T) {
		r := getQuery(t, s, nil, url.Values{"query": {bookQuery}, "variables": {`{"id": "` + fakePassword + `"`}})
		requireHTTPError(t, r, 0)
		require.NotContains(t, string(r.Body), fakePassword)
	})

	t.Run("Accept graphql-response+json", func(t *testing.T) {
		h := jsonHeader("")
		h.Set("Accept", "application/graphql-response+json")
		body, _ := json.Marshal(map[string]any{"query": bookQuery, "variables": map[string]any{"id": b.ID}})
		r := s.Raw(t, http.MethodPost, "/graphql", h, body)
		require.Equal(t, http.StatusOK, r.Status)
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/graphql-response+json"),
			"POST Content-Type %q", r.Header.Get("Content-Type"))
		require.Empty(t, r.Errors)

		r = getQuery(t, s, http.Header{"Accept": {"application/graphql-response+json"}}, url.Values{"query": {`{ __typename }`}})
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/graphql-response+json"),
			"GET Content-Type %q", r.Header.Get("Content-Type"))

		r = s.Raw(t, http.MethodPost, "/graphql", jsonHeader(""), body)
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"),
			"Content-Type %q without Accept", r.Header.Get("Content-Type"))
	})

	t.Run("malformed JSON body", func(t *testing.T) {
		signin := `mutation { signin(email: \"a@example.com\", password: \"` + fakePassword + `\") { accessToken } }`
		for name, body := range map[string]string{
			"truncated":        `{"query": "` + signin + `"`,
			"not JSON":         `query=` + fakePassword,
			"query not string": `{"query": {"password": "` + fakePassword + `"}}`,
			"bad variables":    `{"query": "{ __typename }", "variables": "` + fakePassword + `"}`,
			"empty":            ``,
		} {
			t.Run(name, func(t *testing.T) {
				r := s.Raw(t, http.MethodPost, "/graphql", jsonHeader(""), []byte(body))
				requireHTTPError(t, r, 0)
				require.NotContains(t, string(r.Body), fakePassword, "the body was echoed")
			})
		}
	})

	t.Run("wrong Content-Type", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"query": createBook("wrong type")})
		for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/graphql", "application/jsonx"} {
			h := jsonHeader(admin.AccessToken)
			if ct == "" {
				h.Del("Content-Type")
			} else {
				h.Set("Content-Type", ct)
			}
			r := s.Raw(t, http.MethodPost, "/graphql", h, body)
			requireHTTPError(t, r, 0)
		}
		require.Zero(t, booksTitled(t, "wrong type"), "a mutation ran despite its Content-Type")
	})

	t.Run("body over 1 MiB", func(t *testing.T) {
		pad := strings.Repeat("a", 1<<20)
		body, _ := json.Marshal(map[string]any{"query": createBook("too big"), "variables": map[string]any{"pad": pad}})
		r := s.Raw(t, http.MethodPost, "/graphql", jsonHeader(admin.AccessToken), body)
		requireHTTPError(t, r, http.StatusRequestEntityTooLarge)
		require.Less(t, len(r.Body), 4096, "the body was echoed")
		require.Zero(t, booksTitled(t, "too big"))
	})

	t.Run("other methods", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"query": createBook("via PUT")})
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			r := s.Raw(t, m, "/graphql", jsonHeader(admin.AccessToken), body)
			requireHTTPError(t, r, http.StatusMethodNotAllowed)
		}
		require.Zero(t, booksTitled(t, "via PUT"))
	})

	t.Run("parse errors", func(t *testing.T) {
		for _, q := range []string{`{ me { id }`, `query {`, `}}}`, `{ book(id: "x) { id } }`, "{ \u0000 }"} {
			r := s.Query(t, "", q, nil)
			requireErr(t, r, "GRAPHQL_PARSE_FAILED", "")
			require.Contains(t, []string{"", "null"}, string(r.Data))
		}
	})

	t.Run("empty query", func(t *testing.T) {
		r := s.Query(t, "", "", nil)
		require.NotEmpty(t, r.Errors, "%s", r.Body)
		require.Contains(t, []string{"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}, r.Code(), "%s", r.Body)
	})

	t.Run("validation errors", func(t *testing.T) {
		for _, q := range []string{
			`{ nope }`,
			`{ me { password } }`,
			`{ book(id: "` + b.ID.String() + `", nope: 1) { id } }`,
			`{ book { id } }`,
			`{ books }`,
			`subscription { me { id } }`,
		} {
			t.Run(q, func(t *testing.T) {
				r := s.Query(t, admin.AccessToken, q, nil)
				require.NotEmpty(t, r.Errors, "%s accepted: %s", q, r.Body)
				require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code(), "%s: %s", q, r.Body)
			})
		}
	})

	t.Run("wrong variable types", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			vars  map[string]any
		}{
			{`query($f: Int) { books(first: $f) { totalCount } }`, map[string]any{"f": "ten"}},
			{`query($f: Int) { books(first: $f) { totalCount } }`, map[string]any{"f": 1.5}},
			{`query($f: Int) { books(first: $f) { totalCount } }`, map[string]any{"f": []any{1}}},
			{`query($id: ID!) { book(id: $id) { id } }`, map[string]any{"id": map[string]any{"a": 1}}},
			{`query($id: ID!) { book(id: $id) { id } }`, map[string]any{"id": nil}},
			{`query($id: ID!) { book(id: $id) { id } }`, nil},
			{`mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`, map[string]any{"in": map[string]any{"title": []any{"t"}, "author": "x"}}},
			{`mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`, map[string]any{"in": map[string]any{"title": "t", "author": "x", "owner": "me"}}},
			{`mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`, map[string]any{"in": "x"}},
		} {
			t.Run(fmt.Sprint(tt.vars), func(t *testing.T) {
				r := s.Query(t, admin.AccessToken, tt.query, tt.vars)
				require.NotEmpty(t, r.Errors, "%s %v accepted: %s", tt.query, tt.vars, r.Body)
				require.Contains(t, []string{"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}, r.Code(), "%s %v: %s", tt.query, tt.vars, r.Body)
			})
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			r := s.Raw(t, http.MethodGet, path, nil, nil)
			require.Equal(t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
		}
	})

	t.Run("playground", func(t *testing.T) {
		r := s.Raw(t, http.MethodGet, "/", nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, r.Header.Get("Content-Type"), "text/html")
		require.Contains(t, strings.ToLower(string(r.Body)), "<html")
		require.Contains(t, string(r.Body), "/graphql", "playground does not point at /graphql")
	})

	t.Run("no password field is reachable", func(t *testing.T) {
		var out struct {
			Schema struct {
				Types []struct {
					Name, Kind string
					Fields     []struct{ Name string }
				}
			} `json:"__schema"`
		}
		s.Query(t, "", `{ __schema { types { name kind fields(includeDeprecated: true) { name } } } }`, nil).Decode(t, &out)
		var user bool
		for _, typ := range out.Schema.Types {
			user = user || typ.Name == "User"
			for _, f := range typ.Fields {
				require.NotContains(t, strings.ToLower(f.Name), "password", "%s.%s is readable", typ.Name, f.Name)
				require.NotContains(t, strings.ToLower(f.Name), "hash", "%s.%s is readable", typ.Name, f.Name)
			}
		}
		require.True(t, user, "introspection does not list User")

		var typ struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		s.Query(t, "", `{ __type(name: "User") { fields { name } } }`, nil).Decode(t, &typ)
		var names []string
		for _, f := range typ.Type.Fields {
			names = append(names, f.Name)
		}
		require.Contains(t, names, "email")
		require.Contains(t, names, "permissions")
		for _, n := range names {
			require.NotContains(t, strings.ToLower(n), "password")
		}
	})
}

// TestProductionMode checks that production turns off the playground and
// introspection, and nothing else.
func TestProductionMode(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{Production: true})
	b := mkBook(t, s, "Prod")

	t.Run("no playground", func(t *testing.T) {
		r := s.Raw(t, http.MethodGet, "/", nil, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "playground served in production: %s", r.Body)
		require.NotContains(t, strings.ToLower(string(r.Body)), "graphiql")
	})

	t.Run("introspection refused with a client error code", func(t *testing.T) {
		for _, q := range []string{
			`{ __schema { types { name } } }`,
			`{ __type(name: "User") { fields { name } } }`,
			`query { a: book(id: "` + b.ID.String() + `") { id } __schema { queryType { name } } }`,
		} {
			r := s.Query(t, "", q, nil)
			require.NotEmpty(t, r.Errors, "introspection answered in production: %s", r.Body)
			require.NotContains(t, string(r.Body), `"types":[`, "schema types leaked: %s", r.Body)
			require.NotContains(t, string(r.Body), `"fields":[`, "User fields leaked: %s", r.Body)
			require.NotContains(t, string(r.Body), `"queryType":{`, "query type leaked: %s", r.Body)
			// A refusal the client caused is not an internal error.
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "introspection refusal reported as an internal error: %s", r.Body)
		}
	})

	t.Run("API still works", func(t *testing.T) {
		var out struct{ Book struct{ ID string } }
		s.Query(t, "", `query($id: ID!) { book(id: $id) { id } }`, map[string]any{"id": b.ID}).Decode(t, &out)
		require.Equal(t, b.ID.String(), out.Book.ID)
		for _, path := range []string{"/healthz", "/readyz"} {
			require.Equal(t, http.StatusOK, s.Raw(t, http.MethodGet, path, nil, nil).Status, path)
		}
	})
}
