package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/ent/book"
	"bitgate/graph"
	"bitgate/internal/apitest"
	"bitgate/internal/content"
	"bitgate/internal/database"
)

// fakePassword is a secret a client might send in a body the server cannot
// read; no answer may echo it.
const fakePassword = "Fak3-Passw0rd-Never-Echoed"

// TestTransport holds the HTTP side of /graphql to the GraphQL-over-HTTP
// rules of the contract.
func TestTransport(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	b := c.StoreBook(t, "Transported")
	bookVars := apitest.Vars{"id": b.ID}
	get := func(t *testing.T, h http.Header, params url.Values) *apitest.Response {
		t.Helper()
		return c.Raw(t, http.MethodGet, "/graphql?"+params.Encode(), h, nil)
	}
	// booksTitled counts the books with title, to prove a refused mutation
	// did not run.
	booksTitled := func(t *testing.T, title string) int {
		t.Helper()
		return c.DB.Book.Query().Where(book.Title(title)).CountX(ctx)
	}
	createBook := func(title string) string {
		return `mutation { createBook(input: {title: "` + title + `", author: "x"}) { id } }`
	}
	body := func(query string, vars apitest.Vars) []byte {
		b, err := json.Marshal(apitest.Vars{"query": query, "variables": vars})
		require.NoError(t, err)
		return b
	}

	t.Run("POST application/json", func(t *testing.T) {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
			r := c.Raw(t, http.MethodPost, "/graphql", http.Header{"Content-Type": {ct}}, body(apitest.OpBook, bookVars))
			require.Equal(t, http.StatusOK, r.Status, "Content-Type %s: %s", ct, r.Body)
			got := apitest.Data[apitest.Book](t, r, "book")
			require.Equal(t, b.ID.String(), got.ID)
			require.Equal(t, "Transported", got.Title)
		}
	})

	t.Run("GET query", func(t *testing.T) {
		r := get(t, nil, url.Values{"query": {`{ book(id: "` + b.ID.String() + `") { id title } }`}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Equal(t, b.ID.String(), apitest.Data[apitest.Book](t, r, "book").ID)

		r = get(t, nil, url.Values{"query": {apitest.OpBook}, "variables": {`{"id":"` + b.ID.String() + `"}`}})
		require.Equal(t, "Transported", apitest.Data[apitest.Book](t, r, "book").Title)
	})

	t.Run("GET mutation is refused with a coded 4xx error", func(t *testing.T) {
		for name, params := range map[string]url.Values{
			"plain":          {"query": {createBook("via GET")}},
			"named mutation": {"query": {`query Q { __typename } mutation M ` + createBook("via GET")[len("mutation"):]}, "operationName": {"M"}},
		} {
			t.Run(name, func(t *testing.T) {
				apitest.RequireTransportError(t, get(t, apitest.Header("Authorization", "Bearer "+admin.Token), params), 0)
			})
		}
		require.Zero(t, booksTitled(t, "via GET"), "a mutation ran over GET")
	})

	t.Run("GET with undecodable variables gets a coded 4xx error", func(t *testing.T) {
		r := get(t, nil, url.Values{"query": {apitest.OpBook}, "variables": {`{"id": "` + fakePassword + `"`}})
		apitest.RequireTransportError(t, r, 0)
		require.NotContains(t, string(r.Body), fakePassword)
	})

	t.Run("Accept graphql-response+json", func(t *testing.T) {
		const media = "application/graphql-response+json"
		r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Accept", media), body(apitest.OpBook, bookVars))
		require.Equal(t, http.StatusOK, r.Status)
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), media), "POST Content-Type %q", r.Header.Get("Content-Type"))
		require.Empty(t, r.Errors)

		r = get(t, http.Header{"Accept": {media}}, url.Values{"query": {`{ __typename }`}})
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), media), "GET Content-Type %q", r.Header.Get("Content-Type"))

		r = c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), body(apitest.OpBook, bookVars))
		require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "Content-Type %q without Accept", r.Header.Get("Content-Type"))
	})

	t.Run("malformed JSON body", func(t *testing.T) {
		signin := `mutation { signin(email: \"a@example.com\", password: \"` + fakePassword + `\") { accessToken } }`
		for name, raw := range map[string]string{
			"truncated":        `{"query": "` + signin + `"`,
			"not JSON":         `query=` + fakePassword,
			"query not string": `{"query": {"password": "` + fakePassword + `"}}`,
			"bad variables":    `{"query": "{ __typename }", "variables": "` + fakePassword + `"}`,
			"empty":            ``,
		} {
			t.Run(name, func(t *testing.T) {
				r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), []byte(raw))
				apitest.RequireTransportError(t, r, 0)
				require.NotContains(t, string(r.Body), fakePassword, "the body was echoed")
			})
		}
	})

	t.Run("wrong Content-Type", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/graphql", "application/jsonx"} {
			h := apitest.Header("Authorization", "Bearer "+admin.Token, "Content-Type", ct)
			if ct == "" {
				h.Del("Content-Type")
			}
			apitest.RequireTransportError(t, c.Raw(t, http.MethodPost, "/graphql", h, body(createBook("wrong type"), nil)), 0)
		}
		require.Zero(t, booksTitled(t, "wrong type"), "a mutation ran despite its Content-Type")
	})

	t.Run("body over 1 MiB", func(t *testing.T) {
		pad := strings.Repeat("a", 1<<20)
		r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Authorization", "Bearer "+admin.Token), body(createBook("too big"), apitest.Vars{"pad": pad}))
		apitest.RequireTransportError(t, r, http.StatusRequestEntityTooLarge)
		require.Less(t, len(r.Body), 4096, "the body was echoed")
		require.Zero(t, booksTitled(t, "too big"))
	})

	t.Run("other methods", func(t *testing.T) {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			r := c.Raw(t, m, "/graphql", apitest.Header("Authorization", "Bearer "+admin.Token), body(createBook("via PUT"), nil))
			apitest.RequireTransportError(t, r, http.StatusMethodNotAllowed)
		}
		require.Zero(t, booksTitled(t, "via PUT"))
	})

	t.Run("parse errors", func(t *testing.T) {
		for _, q := range []string{`{ me { id }`, `query {`, `}}}`, `{ book(id: "x) { id } }`, "{ \u0000 }"} {
			apitest.RequireCode(t, c.Do(t, "", q, nil), "GRAPHQL_PARSE_FAILED")
		}
	})

	t.Run("empty query", func(t *testing.T) {
		r := c.Do(t, "", "", nil)
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
				apitest.RequireCode(t, c.Do(t, admin.Token, q, nil), "GRAPHQL_VALIDATION_FAILED")
			})
		}
	})

	t.Run("wrong variable types", func(t *testing.T) {
		const books = `query($f: Int) { books(first: $f) { totalCount } }`
		for _, tc := range []struct {
			query string
			vars  apitest.Vars
		}{
			{books, apitest.Vars{"f": "ten"}},
			{books, apitest.Vars{"f": 1.5}},
			{books, apitest.Vars{"f": []any{1}}},
			{apitest.OpBook, apitest.Vars{"id": apitest.Vars{"a": 1}}},
			{apitest.OpBook, apitest.Vars{"id": nil}},
			{apitest.OpBook, nil},
			{apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": []any{"t"}, "author": "x"}}},
			{apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "t", "author": "x", "owner": "me"}}},
			{apitest.OpCreateBook, apitest.Vars{"in": "x"}},
		} {
			t.Run(fmt.Sprint(tc.vars), func(t *testing.T) {
				r := c.Do(t, admin.Token, tc.query, tc.vars)
				require.NotEmpty(t, r.Errors, "%s %v accepted: %s", tc.query, tc.vars, r.Body)
				require.Contains(t, []string{"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}, r.Code(), "%s %v: %s", tc.query, tc.vars, r.Body)
			})
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			require.Equal(t, http.StatusOK, c.Raw(t, http.MethodGet, path, nil, nil).Status, "GET %s", path)
		}
	})

	t.Run("playground", func(t *testing.T) {
		r := c.Raw(t, http.MethodGet, "/", nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, r.Header.Get("Content-Type"), "text/html")
		require.Contains(t, strings.ToLower(string(r.Body)), "<html")
		require.Contains(t, string(r.Body), "/graphql", "playground does not point at /graphql")
	})

	t.Run("no password field is reachable", func(t *testing.T) {
		type schema struct {
			Types []struct {
				Name, Kind string
				Fields     []struct{ Name string }
			}
		}
		var user bool
		for _, typ := range apitest.Data[schema](t, c.Do(t, "", `{ __schema { types { name kind fields(includeDeprecated: true) { name } } } }`, nil), "__schema").Types {
			user = user || typ.Name == "User"
			if typ.Name == "Mutation" {
				continue // operations (requestPasswordReset), not data anyone reads
			}
			for _, f := range typ.Fields {
				require.NotContains(t, strings.ToLower(f.Name), "password", "%s.%s is readable", typ.Name, f.Name)
				require.NotContains(t, strings.ToLower(f.Name), "hash", "%s.%s is readable", typ.Name, f.Name)
			}
		}
		require.True(t, user, "introspection does not list User")

		type userType struct{ Fields []struct{ Name string } }
		var names []string
		for _, f := range apitest.Data[userType](t, c.Do(t, "", `{ __type(name: "User") { fields { name } } }`, nil), "__type").Fields {
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
	c := apitest.New(t, apitest.Options{Production: true})
	b := c.StoreBook(t, "Prod")

	t.Run("no playground", func(t *testing.T) {
		r := c.Raw(t, http.MethodGet, "/", nil, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "playground served in production: %s", r.Body)
		require.NotContains(t, strings.ToLower(string(r.Body)), "graphiql")
	})

	t.Run("introspection refused with a client error code", func(t *testing.T) {
		for _, q := range []string{
			`{ __schema { queryType { name } } }`,
			`{ __schema { types { name } } }`,
			`{ __type(name: "User") { fields { name } } }`,
			`query { a: book(id: "` + b.ID.String() + `") { id } __schema { queryType { name } } }`,
		} {
			r := c.Do(t, "", q, nil)
			require.NotEmpty(t, r.Errors, "introspection answered in production: %s", r.Body)
			require.NotContains(t, string(r.Body), `"types":[`, "schema types leaked: %s", r.Body)
			require.NotContains(t, string(r.Body), `"fields":[`, "User fields leaked: %s", r.Body)
			require.NotContains(t, string(r.Body), `"queryType":{`, "query type leaked: %s", r.Body)
			// A refusal the client caused is not an internal error.
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "introspection refusal reported as an internal error: %s", r.Body)
		}
	})

	t.Run("API still works", func(t *testing.T) {
		require.Equal(t, b.ID.String(), apitest.Data[apitest.Book](t, c.Do(t, "", apitest.OpBook, apitest.Vars{"id": b.ID}), "book").ID)
		require.Equal(t, "Query", apitest.Data[string](t, c.Do(t, "", `{ __typename }`, nil), "__typename"))
		for _, path := range []string{"/healthz", "/readyz"} {
			require.Equal(t, http.StatusOK, c.Raw(t, http.MethodGet, path, nil, nil).Status, path)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	for _, tc := range []struct {
		name, method, path string
		h                  http.Header
		body               []byte
		status             int
	}{
		{"graphql POST", http.MethodPost, "/graphql", apitest.Header(), []byte(`{"query":"{ __typename }"}`), 200},
		{"graphql GET", http.MethodGet, "/graphql?query=%7B__typename%7D", nil, nil, 200},
		{"graphql error", http.MethodPost, "/graphql", apitest.Header(), []byte(`{"query":"{ nope }"}`), 200},
		{"healthz", http.MethodGet, "/healthz", nil, nil, 200},
		{"not found", http.MethodGet, "/no/such/page", nil, nil, 404},
		{"too large", http.MethodPost, "/graphql", apitest.Header(), bytes.Repeat([]byte(" "), 2<<20), 413},
		{"wrong method", http.MethodPut, "/graphql", apitest.Header(), nil, 405},
		{"playground", http.MethodGet, "/", nil, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Raw(t, tc.method, tc.path, tc.h, tc.body)
			require.Equal(t, tc.status, r.Status, "status: %s", r.Body)
			require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			require.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")
			require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
			require.NotEmpty(t, r.Header.Get("Referrer-Policy"))
			require.Regexp(t, `^[0-9a-f]{16}$`, r.Header.Get("X-Request-ID"))
			if strings.HasPrefix(tc.path, "/graphql") {
				require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			}
		})
	}

	t.Run("X-Request-ID", func(t *testing.T) {
		for _, tc := range []struct{ sent, want string }{
			{"abc-123", "abc-123"},
			{"", ""},
			{"bad id with spaces", ""},
			{strings.Repeat("a", 65), ""},
			{"<script>", ""},
		} {
			h := apitest.Header()
			if tc.sent != "" {
				h.Set("X-Request-ID", tc.sent)
			}
			got := c.Raw(t, http.MethodPost, "/graphql", h, []byte(`{"query":"{ __typename }"}`)).Header.Get("X-Request-ID")
			if tc.want != "" {
				require.Equal(t, tc.want, got, "X-Request-ID %q", tc.sent)
			} else {
				require.Regexp(t, `^[0-9a-f]{16}$`, got, "X-Request-ID %q", tc.sent)
			}
		}
	})
}

// nested returns open, then inner, then as many closing braces.
func nested(open string, n int, inner string) string {
	return strings.Repeat(open+" { ", n) + inner + strings.Repeat(" }", n)
}

// TestHostileInputs sends what the query limits and the body checks are
// for: each answer is a client error with the right code, never an
// internal one, fast, and the server still serves afterwards.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)

	gql := func(query string, vars apitest.Vars) []byte {
		b, err := json.Marshal(apitest.Vars{"query": query, "variables": vars})
		require.NoError(t, err)
		return b
	}
	// fanOut(n) spreads each of n fragments twice into the one before: it
	// expands to 2^n fields, so any walk of its expansion never ends.
	fanOut := func(n int) string {
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range n {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on Query { __typename books(first: 100) { totalCount } }\n", n)
		return b.String()
	}
	var bomb strings.Builder
	bomb.WriteString("{")
	for i := range 10 {
		fmt.Fprintf(&bomb, ` u%d: users(first: 100) { edges { node { id email } } }`, i)
		fmt.Fprintf(&bomb, ` b%d: books(first: 100) { edges { node { id title } } }`, i)
		fmt.Fprintf(&bomb, ` n%d: notes(first: 100) { edges { node { id owner { id } } } }`, i)
	}
	bomb.WriteString(" }")
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, "a%x:__typename ", i)
		}
		b.WriteString("}")
		return b.String()
	}
	booksFirst := `query($first: Int) { books(first: $first) { totalCount } }`
	deepJSON := func(n int) []byte {
		return []byte(`{"query":"{ __typename }","variables":{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
	}

	for _, tc := range []struct {
		name   string
		token  bool
		ctype  string // default application/json
		body   []byte
		status int    // 0: any status below 500
		code   string // "": any contract code, or none
		field  string // for BAD_USER_INPUT
	}{
		{name: "100 nested me", body: gql("{ "+nested("me", 100, "id")+" }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "100 nested ofType", body: gql("{ __schema { types { "+nested("ofType", 100, "name")+" } } }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "circular fragments", body: gql("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "exponential fragment fan-out", token: true, body: gql(fanOut(40), nil), code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "10 MB body", body: append(append([]byte(`{"query":"{ __typename }","x":"`), bytes.Repeat([]byte("A"), 10<<20)...), '"', '}'), status: http.StatusRequestEntityTooLarge},
		{name: "invalid UTF-8 in a string", body: []byte("{\"query\":\"{ book(id: \\\"\xff\xfe\xfd\\\") { id } }\"}"), code: "BAD_USER_INPUT", field: "id"},
		{name: "invalid UTF-8 in the query", body: []byte("{\"query\":\"{ \xff\xfe }\"}"), code: "GRAPHQL_PARSE_FAILED"},
		{name: "invalid UTF-8 in a variable name", body: []byte("{\"query\":\"{ __typename }\",\"variables\":{\"\xc3\x28\":1}}")},
		{name: "string for an Int variable", token: true, body: gql(booksFirst, apitest.Vars{"first": "abc"}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "object for an ID variable", body: gql(apitest.OpBook, apitest.Vars{"id": apitest.Vars{"a": 1}}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "NUL in a note title", token: true, body: gql(`mutation($t: String!) { createNote(input: {title: $t, content: "c"}) { id } }`, apitest.Vars{"t": "a\u0000b"}), code: "BAD_USER_INPUT", field: "title"},
		{name: "first 1e30 variable", token: true, body: []byte(`{"query":"` + booksFirst + `","variables":{"first":1e30}}`), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "first 1e30 literal", token: true, body: gql(`{ books(first: 1e30) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "first 2^31", token: true, body: gql(booksFirst, apitest.Vars{"first": 2147483648}), code: "BAD_USER_INPUT", field: "first"},
		{name: "first -2^31-1", token: true, body: gql(`{ books(first: -2147483649) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "first"},
		{name: "first 10^23 literal", token: true, body: gql(`{ books(first: 99999999999999999999999) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "complexity bomb", token: true, body: gql(bomb.String(), nil), code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "JSON variables 10000 deep", body: deepJSON(10_000)},
		{name: "JSON variables 100000 deep", body: deepJSON(100_000), code: "GRAPHQL_PARSE_FAILED"},
		{name: "100k aliases of __typename", body: gql(aliases(100_000), nil), status: http.StatusRequestEntityTooLarge},
		{name: "60k aliases of __typename", body: gql(aliases(60_000), nil), code: "GRAPHQL_PARSE_FAILED"},
		{name: "text/plain body", ctype: "text/plain", body: gql("{ __typename }", nil), status: http.StatusUnsupportedMediaType},
		{name: "empty body", body: nil, code: "GRAPHQL_PARSE_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := apitest.Header()
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			if tc.token {
				h.Set("Authorization", "Bearer "+u.Token)
			}
			r := c.Raw(t, http.MethodPost, "/graphql", h, tc.body)
			if tc.status != 0 {
				require.Equal(t, tc.status, r.Status, "status: %s", r.Body)
			}
			require.Contains(t, r.Header.Get("Content-Type"), "json", "not a JSON answer: %s", r.Body)
			require.True(t, len(r.Errors) > 0 || len(r.Data) > 0, "neither errors nor data: %s", r.Body)
			if r.Status >= 400 {
				require.NotEmpty(t, r.Errors, "4xx without errors: %s", r.Body)
			}
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "a client's mistake reported as internal: %s", r.Body)
			if tc.code != "" {
				require.Equal(t, tc.code, r.Code(), "code: %s", r.Body)
				if tc.field != "" {
					require.Equal(t, tc.field, r.Errors[0].Field(), "field: %s", r.Body)
				}
			}
			c.RequireServes(t)
		})
	}
}

// TestHugeDocumentsRefusedBeforeValidation sends documents whose
// validation would take time growing with the square of their fields: they
// must be refused by the field count, which runs before gqlgen validates
// them.
func TestHugeDocumentsRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	for _, n := range []int{501, 8000, 19_000} {
		query := "{" + strings.Repeat(" __typename", n) + " }"
		r := c.Do(t, "", query, nil)
		e := apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
		require.Contains(t, e.Message, fmt.Sprintf("holds %d fields, more than the limit", n), "refused by another rule: %s", r.Body)
	}
	c.RequireServes(t)
}

// TestPanicIsRecovered makes a resolver panic (the GraphQL server is built
// without its account service) and expects a coded internal error, no
// stack trace, and a server that still answers.
func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	db, err := database.Open(context.Background(), "file:"+filepath.Join(t.TempDir(), "p.db"), database.Options{})
	require.NoError(t, err)
	defer db.Close()
	client := db.Client
	log := &apitest.Log{}
	c := apitest.Serve(t, graph.NewServer(graph.ServerConfig{
		Client: client, Content: content.NewService(client), Logger: slog.New(slog.NewTextHandler(log, nil)),
	}))

	r := c.Do(t, "", apitest.OpSignIn, apitest.Credentials("a@b.co", "whatever1"))
	apitest.RequireCode(t, r, "INTERNAL_SERVER_ERROR")
	require.Contains(t, log.String(), "panic in resolver", "the panic is logged")
	c.RequireServes(t)
}

// TestInternalErrorsHideDetail breaks the database under a running server:
// queries answer INTERNAL_SERVER_ERROR without the driver's message, and
// /readyz answers 503 while /healthz still answers 200.
func TestInternalErrorsHideDetail(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	require.Equal(t, http.StatusOK, c.Readyz(t).Status)

	require.NoError(t, c.DB.Close())
	r := c.Do(t, u.Token, apitest.OpBooks, nil)
	apitest.RequireCode(t, r, "INTERNAL_SERVER_ERROR")
	require.NotContains(t, strings.ToLower(string(r.Body)), "sql", "driver detail leaked: %s", r.Body)
	require.Equal(t, http.StatusServiceUnavailable, c.Readyz(t).Status)
	require.Equal(t, http.StatusOK, c.Raw(t, http.MethodGet, "/healthz", nil, nil).Status)
}
