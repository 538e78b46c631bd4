package graph_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/ent/book"
	"bitgate/graph"
	"bitgate/internal/apitest"
)

// TestGraphQLOverHTTPStatuses holds /graphql to the GraphQL-over-HTTP
// spec's status codes and answer shapes: a request error (raised before
// the operation runs) has no data entry, and is 200 under application/json
// and 400 under application/graphql-response+json; an error raised while
// the operation runs keeps its data entry and 200 under both.
func TestGraphQLOverHTTPStatuses(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Limits: graph.Limits{MaxDepth: 4, MaxComplexity: 200}})
	u := c.SignUp(t)

	requestErrors := map[string]struct {
		body string
		code string
	}{
		"parse error":            {`{"query":"{ me { id }"}`, "GRAPHQL_PARSE_FAILED"},
		"validation error":       {`{"query":"{ nope }"}`, "GRAPHQL_VALIDATION_FAILED"},
		"no such operation":      {`{"query":"query A { me { id } }","operationName":"B"}`, "GRAPHQL_VALIDATION_FAILED"},
		"variable of wrong type": {`{"query":"query($f: Int) { books(first: $f) { totalCount } }","variables":{"f":"ten"}}`, "GRAPHQL_VALIDATION_FAILED"},
		"missing variable":       {`{"query":"query($id: ID!) { book(id: $id) { id } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		"too deep":               {`{"query":"{ notes { edges { node { owner { id } } } } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		"too complex":            {`{"query":"{ books(first: 100) { edges { node { id title author } } } }"}`, "COMPLEXITY_LIMIT_EXCEEDED"},
		"two signins":            {`{"query":"mutation { a: signin(email: \"a@example.com\", password: \"x\") { tokenType } b: signin(email: \"b@example.com\", password: \"x\") { tokenType } }"}`, "RATE_LIMITED"},
	}
	for _, media := range []struct {
		accept, contentType string
		status              int
	}{
		{"", "application/json", http.StatusOK},
		{"application/json", "application/json", http.StatusOK},
		{"application/graphql-response+json", "application/graphql-response+json", http.StatusBadRequest},
		{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json", http.StatusBadRequest},
	} {
		h := apitest.Header("Authorization", "Bearer "+u.Token)
		if media.accept != "" {
			h.Set("Accept", media.accept)
		}
		for name, tc := range requestErrors {
			t.Run(media.accept+"/"+name, func(t *testing.T) {
				r := c.Raw(t, http.MethodPost, "/graphql", h, []byte(tc.body))
				require.Equal(t, media.status, r.Status, "%s", r.Body)
				require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), media.contentType), "Content-Type %q", r.Header.Get("Content-Type"))
				apitest.RequireCode(t, r, tc.code)
				apitest.RequireNoDataEntry(t, r)
			})
		}
		t.Run(media.accept+"/field error keeps data", func(t *testing.T) {
			r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Accept", media.accept), []byte(`{"query":"{ me { id } }"}`))
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			apitest.RequireCode(t, r, "UNAUTHENTICATED")
			var top map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.Body, &top))
			require.Contains(t, top, "data", "an execution error must keep the data entry: %s", r.Body)
		})
	}
}

// TestGETRunsQueriesOnly sends mutations over GET, in every way a client
// could, and requires 405 with Allow: POST, a coded error, and nothing run.
func TestGETRunsQueriesOnly(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	h := apitest.Header("Authorization", "Bearer "+admin.Token)
	create := `mutation M { createBook(input: {title: "via GET", author: "x"}) { id } }`
	for name, params := range map[string]url.Values{
		"mutation":                {"query": {create}},
		"named among queries":     {"query": {`query Q { __typename } ` + create}, "operationName": {"M"}},
		"with variables":          {"query": {`mutation($t: String!) { createBook(input: {title: $t, author: "x"}) { id } }`}, "variables": {`{"t":"via GET"}`}},
		"graphql-response+json":   {"query": {create}},
		"signin":                  {"query": {`mutation { signin(email: "a@example.com", password: "x") { tokenType } }`}},
		"subscription (no type)":  {"query": {`subscription { me { id } }`}},
		"mutation in a fragment?": {"query": {`mutation { ...F } fragment F on Mutation { createBook(input: {title: "via GET", author: "x"}) { id } }`}},
	} {
		t.Run(name, func(t *testing.T) {
			hh := h.Clone()
			if name == "graphql-response+json" {
				hh.Set("Accept", "application/graphql-response+json")
			}
			r := c.Raw(t, http.MethodGet, "/graphql?"+params.Encode(), hh, nil)
			if strings.HasPrefix(name, "subscription") {
				apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
				return
			}
			apitest.RequireTransportError(t, r, http.StatusMethodNotAllowed)
			require.Equal(t, "POST", r.Header.Get("Allow"))
			apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
			apitest.RequireNoDataEntry(t, r)
		})
	}
	require.Zero(t, c.DB.Book.Query().Where(book.Title("via GET")).CountX(t.Context()), "a mutation ran over GET")

	t.Run("undecodable parameters", func(t *testing.T) {
		for _, raw := range []string{"variables=%7B", "variables=%5B1%5D", "extensions=nope", "query=%7B__typename%7D&variables=%22x%22"} {
			r := c.Raw(t, http.MethodGet, "/graphql?"+raw, nil, nil)
			apitest.RequireTransportError(t, r, http.StatusBadRequest)
			apitest.RequireCode(t, r, "GRAPHQL_PARSE_FAILED")
		}
	})
}

// TestOneReadingOfEachRequest sends requests that a gateway or a firewall
// inspecting them could read otherwise than the server: text after the
// first JSON value, a key given twice (at any depth, also when spelled
// with escapes), a known key in another case, a GET parameter given twice
// or in another case. Each is 400 with a coded errors array that does not
// echo the request, and runs nothing. Keys and parameters the server does
// not know are ignored, as the GraphQL-over-HTTP spec keeps them for later
// versions, and null stands for a missing parameter.
func TestOneReadingOfEachRequest(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	me := `{ me { id } }`
	signout := `mutation { signout }`
	signin := `mutation { signin(email: \"a@example.com\", password: \"` + fakePassword + `\") { tokenType } }`

	for name, body := range map[string]string{
		"a second object":           `{"query":"` + me + `"} {"query":"` + signout + `"}`,
		"a second object, no space": `{"query":"` + me + `"}{"query":"` + signout + `"}`,
		"a closing brace":           `{"query":"` + me + `"}}`,
		"a word":                    `{"query":"` + me + `"} ` + fakePassword,
		"query twice":               `{"query":"` + me + `","query":"` + signout + `"}`,
		"query twice, escaped":      `{"query":"` + me + `","qu\u0065ry":"` + signout + `"}`,
		"query twice, one in caps":  `{"query":"` + me + `","QUERY":"` + signout + `"}`,
		"query in caps":             `{"QUERY":"` + signout + `"}`,
		"query in caps, escaped":    `{"\u0051uery":"` + signout + `"}`,
		"operationName in lower":    `{"query":"` + me + `","operationname":"X"}`,
		"Variables":                 `{"query":"` + me + `","Variables":{}}`,
		"documentID":                `{"query":"` + me + `","documentID":"x"}`,
		"a variable twice":          `{"query":"` + signin + `","variables":{"x":1,"x":"` + fakePassword + `"}}`,
		"a key twice, deep":         `{"query":"` + me + `","variables":{"x":[{"a":{"b":1,"b":2}}]}}`,
		"an extension twice":        `{"query":"` + me + `","extensions":{"persistedQuery":{"version":1,"version":1}}}`,
		"a key twice in an unknown": `{"query":"` + me + `","other":{"a":1,"a":2}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Authorization", "Bearer "+u.Token), []byte(body))
			apitest.RequireTransportError(t, r, http.StatusBadRequest)
			apitest.RequireCode(t, r, "GRAPHQL_PARSE_FAILED")
			require.NotContains(t, string(r.Body), fakePassword, "the body was echoed")
			require.NotContains(t, string(r.Body), "signout", "the body was echoed")
		})
	}
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "a refused request ran signout")

	for name, raw := range map[string]string{
		"query twice":              "query=" + url.QueryEscape(me) + "&query=" + url.QueryEscape(`{ __typename }`),
		"operationName twice":      "query=" + url.QueryEscape(me) + "&operationName=A&operationName=B",
		"query in caps":            "QUERY=" + url.QueryEscape(me),
		"variables in caps":        "query=" + url.QueryEscape(me) + "&Variables=%7B%7D",
		"a variable twice":         "query=" + url.QueryEscape(me) + "&variables=" + url.QueryEscape(`{"x":1,"x":2}`),
		"variables, then more":     "query=" + url.QueryEscape(me) + "&variables=" + url.QueryEscape(`{} {}`),
		"extensions, then more":    "query=" + url.QueryEscape(me) + "&extensions=" + url.QueryEscape(`{}]`),
		"an extension key twice":   "query=" + url.QueryEscape(me) + "&extensions=" + url.QueryEscape(`{"a":1,"a":1}`),
		"documentId twice":         "documentId=a&documentId=b",
		"extensions twice":         "query=" + url.QueryEscape(me) + "&extensions=%7B%7D&extensions=%7B%7D",
		"variables twice":          "query=" + url.QueryEscape(me) + "&variables=%7B%7D&variables=%7B%7D",
		"a variable twice, escape": "query=" + url.QueryEscape(me) + "&variables=" + url.QueryEscape(`{"x":1,"\u0078":2}`),
	} {
		t.Run("GET "+name, func(t *testing.T) {
			r := c.Raw(t, http.MethodGet, "/graphql?"+raw, apitest.Header("Authorization", "Bearer "+u.Token), nil)
			apitest.RequireTransportError(t, r, http.StatusBadRequest)
			apitest.RequireCode(t, r, "GRAPHQL_PARSE_FAILED")
		})
	}

	t.Run("unknown keys and nulls", func(t *testing.T) {
		for _, body := range []string{
			`{"query":"` + me + `","futureKey":{"a":[1,2,{"b":null}]},"id":"x"}`,
			`{"query":"` + me + `","variables":null,"operationName":null,"extensions":null,"documentId":null}`,
			" \n\t{\"query\":\"" + me + "\"}\r\n ",
		} {
			r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Authorization", "Bearer "+u.Token), []byte(body))
			require.Equal(t, u.ID, apitest.Data[apitest.User](t, r, "me").ID, "%s", body)
		}
		r := c.Get(t, u.Token, url.Values{"query": {me}, "_": {"1718000000"}, "future": {"a", "b"}})
		require.Equal(t, u.ID, apitest.Data[apitest.User](t, r, "me").ID)
	})
}

// TestVariablesCoercedAsTheSpecSays gives variables JSON values of each
// built-in scalar's wrong kinds: each is a request error
// (GRAPHQL_VALIDATION_FAILED, no data entry, nothing run), at the top and
// inside input objects and lists, as the GraphQL spec's input coercion
// asks. Before, a string for an Int was read as the number it spelled, and
// a number for a String as its digits. The right kinds still run, ID
// taking a string or an integer. (The schema has no Float argument:
// TestVariableKinds holds Float to its rule.)
func TestVariablesCoercedAsTheSpecSays(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	const books = `query($f: Int) { books(first: $f) { totalCount } }`
	const signout = `mutation($all: Boolean) { signout(allSessions: $all) }`
	const nodes = `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`
	bookInput := func(kv ...any) apitest.Vars {
		in := apitest.Vars{"title": "coerced", "author": "x"}
		for i := 0; i < len(kv); i += 2 {
			in[kv[i].(string)] = kv[i+1]
		}
		return apitest.Vars{"in": in}
	}
	refused := []struct {
		name  string
		query string
		vars  string // JSON
	}{
		{"Int from a string", books, `{"f":"5"}`},
		{"Int from a string with spaces", books, `{"f":" 5"}`},
		{"Int from a fraction", books, `{"f":5.5}`},
		{"Int from a boolean", books, `{"f":true}`},
		{"Int from an exponent with a fraction", books, `{"f":1.5e0}`},
		{"Boolean from a string", signout, `{"all":"true"}`},
		{"Boolean from a number", signout, `{"all":1}`},
		{"String from a number", apitest.OpCreateBook, `{"in":{"title":5,"author":"x"}}`},
		{"String from a boolean", apitest.OpCreateBook, `{"in":{"title":true,"author":"x"}}`},
		{"nested Int from a string", apitest.OpCreateBook, `{"in":{"title":"coerced","author":"x","publishedYear":"1999"}}`},
		{"ID from a fraction", nodes, `{"ids":[1.5]}`},
		{"ID from a boolean", nodes, `{"ids":[true]}`},
		{"ID from an object", apitest.OpBook, `{"id":{"a":1}}`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"query":` + strconv.Quote(tc.query) + `,"variables":` + tc.vars + `}`)
			r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Authorization", "Bearer "+admin.Token), body)
			apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
			apitest.RequireNoDataEntry(t, r)
		})
	}
	require.Zero(t, c.DB.Book.Query().Where(book.Title("coerced")).CountX(t.Context()), "a refused mutation ran")
	require.Equal(t, admin.ID, c.Me(t, admin.Token).ID, "a refused signout ran")

	t.Run("the right kinds run", func(t *testing.T) {
		apitest.Data[map[string]any](t, c.Do(t, admin.Token, books, apitest.Vars{"f": 5}), "books")
		apitest.Data[map[string]any](t, c.Do(t, admin.Token, books, apitest.Vars{"f": 5.0}), "books")
		apitest.Data[map[string]any](t, c.Do(t, admin.Token, books, apitest.Vars{"f": nil}), "books")
		apitest.Data[map[string]any](t, c.Do(t, admin.Token, apitest.OpCreateBook, bookInput("publishedYear", 1999, "isbn", "978-3-16-148410-0")), "createBook")
		b := c.StoreBook(t, "by id")
		require.Len(t, apitest.Data[[]any](t, c.Do(t, admin.Token, nodes, apitest.Vars{"ids": []any{b.ID}}), "nodes"), 1)
		require.Len(t, apitest.Data[[]any](t, c.Do(t, admin.Token, nodes, apitest.Vars{"ids": b.ID}), "nodes"), 1, "a single ID for a list of them")
		// An integer is an ID as the spec says, but never one of this
		// server's (UUIDs): the field refuses it, not the coercion.
		apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpBook, apitest.Vars{"id": 5}), "BAD_USER_INPUT", "id")
		require.True(t, apitest.Data[bool](t, c.Do(t, admin.Token, signout, apitest.Vars{"all": false}), "signout"))
	})
}

// TestRefusalsHaveOneShape sends requests refused before GraphQL runs, by
// the HTTP layer's limits or by the GraphQL transport's reading: each
// answer has the shape of every error answer, in the media type the
// client accepts. Before, the HTTP layer wrote its own, always as
// application/json.
func TestRefusalsHaveOneShape(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	big := []byte(`{"query":"{ __typename }","pad":"` + strings.Repeat("a", 1<<20) + `"}`)
	for name, tc := range map[string]struct {
		method, contentType string
		body                []byte
		status              int
	}{
		"body over the limit": {http.MethodPost, "application/json", big, http.StatusRequestEntityTooLarge},
		"wrong content type":  {http.MethodPost, "text/plain", []byte(`{"query":"{ __typename }"}`), http.StatusUnsupportedMediaType},
		"wrong method":        {http.MethodPut, "application/json", []byte(`{"query":"{ __typename }"}`), http.StatusMethodNotAllowed},
		"not JSON":            {http.MethodPost, "application/json", []byte(`{"query":`), http.StatusBadRequest},
	} {
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			t.Run(name+" "+accept, func(t *testing.T) {
				r := c.Raw(t, tc.method, "/graphql", http.Header{"Content-Type": {tc.contentType}, "Accept": {accept}}, tc.body)
				apitest.RequireTransportError(t, r, tc.status)
				require.Equal(t, accept, r.Header.Get("Content-Type"))
				apitest.RequireCode(t, r, "GRAPHQL_PARSE_FAILED")
				apitest.RequireNoDataEntry(t, r)
			})
		}
	}
}
