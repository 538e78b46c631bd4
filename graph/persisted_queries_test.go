package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/persisted"
)

// apqExtension is the extensions object of Apollo's persisted query link.
func apqExtension(hash string) apitest.Vars {
	return apitest.Vars{"persistedQuery": apitest.Vars{"version": 1, "sha256Hash": hash}}
}

// apqParams are the GET parameters of Apollo's link with
// useGETForHashedQueries: the hash, no query.
func apqParams(hash string, vars apitest.Vars) url.Values {
	ext, _ := json.Marshal(apqExtension(hash))
	v, _ := json.Marshal(vars)
	return url.Values{"extensions": {string(ext)}, "variables": {string(v)}}
}

// requireNotFound requires the answer Apollo's link resends the query on.
func requireNotFound(t *testing.T, r *apitest.Response) {
	t.Helper()
	apitest.RequireCode(t, r, "PERSISTED_QUERY_NOT_FOUND")
	require.Equal(t, "PersistedQueryNotFound", r.Errors[0].Message)
	apitest.RequireNoDataEntry(t, r)
}

// TestAutomaticPersistedQueries plays Apollo's persisted query link over
// POST and GET: a hash the server has not seen answers
// PersistedQueryNotFound (status 200 under application/json, so that the
// link reads it), the link sends the query with its hash, and from then on
// the hash alone runs it.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	book := c.StoreBook(t, "Persisted").ID.String()
	vars := apitest.Vars{"id": book}
	hash := persisted.Hash(apitest.OpBook)

	r := c.DoBody(t, u.Token, apitest.Vars{"extensions": apqExtension(hash), "variables": vars})
	require.Equal(t, http.StatusOK, r.Status)
	requireNotFound(t, r)
	requireNotFound(t, c.Get(t, u.Token, apqParams(hash, vars)))

	r = c.DoBody(t, u.Token, apitest.Vars{"query": apitest.OpBook, "extensions": apqExtension(hash), "variables": vars})
	require.Equal(t, "Persisted", apitest.Data[apitest.Book](t, r, "book").Title)

	r = c.DoBody(t, u.Token, apitest.Vars{"extensions": apqExtension(hash), "variables": vars})
	require.Equal(t, "Persisted", apitest.Data[apitest.Book](t, r, "book").Title, "hash alone over POST")
	r = c.Get(t, u.Token, apqParams(hash, vars))
	require.Equal(t, "Persisted", apitest.Data[apitest.Book](t, r, "book").Title, "hash alone over GET")

	t.Run("under graphql-response+json the miss is a 400 with the same error", func(t *testing.T) {
		body, _ := json.Marshal(apitest.Vars{"extensions": apqExtension(persisted.Hash("{ me { id } }"))})
		r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header("Accept", "application/graphql-response+json"), body)
		require.Equal(t, http.StatusBadRequest, r.Status)
		requireNotFound(t, r)
	})

	t.Run("a hash that does not match its query is refused and not kept", func(t *testing.T) {
		wrong := persisted.Hash("{ __typename }")
		r := c.DoBody(t, u.Token, apitest.Vars{"query": apitest.OpMe, "extensions": apqExtension(wrong)})
		apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
		requireNotFound(t, c.DoBody(t, u.Token, apitest.Vars{"extensions": apqExtension(wrong)}))
	})

	t.Run("another version is refused", func(t *testing.T) {
		r := c.DoBody(t, u.Token, apitest.Vars{"extensions": apitest.Vars{"persistedQuery": apitest.Vars{"version": 2, "sha256Hash": hash}}})
		apitest.RequireCode(t, r, "GRAPHQL_VALIDATION_FAILED")
	})

	t.Run("a persisted mutation does not run over GET", func(t *testing.T) {
		mutation := `mutation { signout }`
		mhash := persisted.Hash(mutation)
		other := c.SignUp(t)
		c.DoBody(t, other.Token, apitest.Vars{"query": mutation, "extensions": apqExtension(mhash)}) // registers it (and signs out)
		fresh := c.SignIn(t, other.Email, apitest.Password)
		r := c.Get(t, fresh.Token, apqParams(mhash, nil))
		apitest.RequireTransportError(t, r, http.StatusMethodNotAllowed)
		require.Equal(t, fresh.ID, c.Me(t, fresh.Token).ID, "the mutation ran over GET")
	})

	t.Run("a long query runs but is not kept", func(t *testing.T) {
		long := "{ __typename " + strings.Repeat("# padding\n", 4000) + "}"
		lhash := persisted.Hash(long)
		r := c.DoBody(t, "", apitest.Vars{"query": long, "extensions": apqExtension(lhash)})
		require.Empty(t, r.Errors, "%s", r.Body)
		requireNotFound(t, c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(lhash)}))
	})

	t.Run("a GET refused with 405 registers nothing", func(t *testing.T) {
		mutation := `mutation { signout(allSessions: true) }`
		mhash := persisted.Hash(mutation)
		ext, _ := json.Marshal(apqExtension(mhash))
		other := c.SignUp(t)
		r := c.Get(t, other.Token, url.Values{"query": {mutation}, "extensions": {string(ext)}})
		apitest.RequireTransportError(t, r, http.StatusMethodNotAllowed)
		requireNotFound(t, c.DoBody(t, other.Token, apitest.Vars{"extensions": apqExtension(mhash)}))
		require.Equal(t, other.ID, c.Me(t, other.Token).ID, "the mutation ran")
	})

	t.Run("a query that does not validate is not registered", func(t *testing.T) {
		bad := `{ nope }`
		apitest.RequireCode(t, c.DoBody(t, "", apitest.Vars{"query": bad, "extensions": apqExtension(persisted.Hash(bad))}), "GRAPHQL_VALIDATION_FAILED")
		requireNotFound(t, c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(persisted.Hash(bad))}))
	})

	t.Run("instances share registrations", func(t *testing.T) {
		other := c.NewInstance(t)
		r := other.DoBody(t, u.Token, apitest.Vars{"extensions": apqExtension(hash), "variables": vars})
		require.Equal(t, "Persisted", apitest.Data[apitest.Book](t, r, "book").Title, "a hash registered on another instance")
		q := `query SharedTheOtherWay { __typename }`
		other.DoBody(t, "", apitest.Vars{"query": q, "extensions": apqExtension(persisted.Hash(q))})
		r = c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(persisted.Hash(q))})
		require.Equal(t, "Query", apitest.Data[string](t, r, "__typename"))
	})
}

// TestPersistedQueriesOutlastAFlood registers a query and uses it, then
// registers more queries than an instance keeps in memory, as anyone may:
// the query in use still runs by its hash alone. Before, the thousand
// registrations flushed it from the one least-recently-used list, and
// every client had to send its queries again.
func TestPersistedQueriesOutlastAFlood(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	inUse := `query InUse { __typename }`
	h := persisted.Hash(inUse)
	c.DoBody(t, "", apitest.Vars{"query": inUse, "extensions": apqExtension(h)})
	require.Equal(t, "Query", apitest.Data[string](t, c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(h)}), "__typename"))

	for i := range 1200 {
		q := fmt.Sprintf("query Flood%d { __typename }", i)
		r := c.DoBody(t, "", apitest.Vars{"query": q, "extensions": apqExtension(persisted.Hash(q))})
		require.Empty(t, r.Errors, "%s", r.Body)
	}
	n := c.SQLCount()
	r := c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(h)})
	require.Equal(t, "Query", apitest.Data[string](t, r, "__typename"), "the query in use was flushed")
	require.Equal(t, n, c.SQLCount(), "the query in use was read from the database: it left the memory")
}

// Documents of the manifests below.
const (
	docMe    = `query Me { me { id email } }`
	docBook  = `query Book($id: ID!) { book(id: $id) { id title } }`
	docOther = `query Other { __typename }`
)

// writeManifests writes a graphql-codegen persisted-documents.json (one id
// with the sha256: prefix, one without) and an Apollo persisted query
// manifest, and returns their paths.
func writeManifests(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	codegen, err := json.Marshal(map[string]string{"sha256:" + persisted.Hash(docMe): docMe, persisted.Hash(docOther): docOther})
	require.NoError(t, err)
	apollo, err := json.Marshal(apitest.Vars{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []apitest.Vars{{"id": persisted.Hash(docBook), "name": "Book", "type": "query", "body": docBook}},
	})
	require.NoError(t, err)
	paths := []string{filepath.Join(dir, "persisted-documents.json"), filepath.Join(dir, "persisted-query-manifest.json")}
	require.NoError(t, os.WriteFile(paths[0], codegen, 0o600))
	require.NoError(t, os.WriteFile(paths[1], apollo, 0o600))
	return paths
}

// TestTrustedDocuments loads both manifest formats and runs their
// documents by id (documentId with or without "sha256:", over POST and
// GET, or an APQ hash), alongside ordinary queries.
func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{PersistedDocuments: writeManifests(t)})
	u := c.SignUp(t)
	book := c.StoreBook(t, "Trusted").ID.String()

	for name, id := range map[string]string{"prefixed": "sha256:" + persisted.Hash(docMe), "bare": persisted.Hash(docMe)} {
		r := c.DoBody(t, u.Token, apitest.Vars{"documentId": id})
		require.Equal(t, u.Email, apitest.Data[apitest.User](t, r, "me").Email, "documentId %s", name)
	}
	r := c.Get(t, u.Token, url.Values{"documentId": {"sha256:" + persisted.Hash(docBook)}, "variables": {`{"id":"` + book + `"}`}})
	require.Equal(t, "Trusted", apitest.Data[apitest.Book](t, r, "book").Title, "documentId over GET, from the Apollo manifest")
	r = c.DoBody(t, u.Token, apitest.Vars{"extensions": apqExtension(persisted.Hash(docBook)), "variables": apitest.Vars{"id": book}})
	require.Equal(t, "Trusted", apitest.Data[apitest.Book](t, r, "book").Title, "an APQ hash of a trusted document runs at once")
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "ordinary queries still run")

	apitest.RequireCode(t, c.DoBody(t, u.Token, apitest.Vars{"documentId": "sha256:" + persisted.Hash("{ nope }")}), "PERSISTED_QUERY_NOT_FOUND")
	apitest.RequireCode(t, c.DoBody(t, u.Token, apitest.Vars{"documentId": persisted.Hash(docMe), "query": docOther}), "GRAPHQL_VALIDATION_FAILED")
}

// TestTrustedDocumentsOnly runs the server that refuses anything but its
// trusted documents: every other way of sending an operation is
// PERSISTED_QUERY_NOT_IN_LIST, and nothing of it runs.
func TestTrustedDocumentsOnly(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{PersistedDocuments: writeManifests(t), PersistedDocumentsOnly: true})
	// signin is not a trusted document here: sign in through the service.
	email, level := apitest.Email(), apitest.Admin
	_, err := c.Accounts.CreateUser(t.Context(), account.CreateUserInput{
		FirstName: "Only", LastName: "Trusted", Email: email, Password: apitest.Password, PermissionLevel: &level,
	})
	require.NoError(t, err)
	s, err := c.Accounts.Signin(t.Context(), email, apitest.Password)
	require.NoError(t, err)
	u := struct{ ID, Token string }{s.User.ID.String(), s.AccessToken}

	r := c.DoBody(t, u.Token, apitest.Vars{"documentId": "sha256:" + persisted.Hash(docMe)})
	require.Equal(t, u.ID, apitest.Data[apitest.User](t, r, "me").ID)
	r = c.DoBody(t, u.Token, apitest.Vars{"query": docMe})
	require.Equal(t, u.ID, apitest.Data[apitest.User](t, r, "me").ID, "the text of a trusted document runs too")

	create := `mutation { createBook(input: {title: "not in the list", author: "x"}) { id } }`
	for name, body := range map[string]apitest.Vars{
		"a query":                     {"query": apitest.OpMe},
		"a mutation":                  {"query": create},
		"introspection":               {"query": `{ __schema { types { name } } }`},
		"an unknown documentId":       {"documentId": "sha256:" + persisted.Hash(apitest.OpMe)},
		"an APQ registration":         {"query": create, "extensions": apqExtension(persisted.Hash(create))},
		"an APQ hash of it":           {"extensions": apqExtension(persisted.Hash(create))},
		"a trusted document, changed": {"query": docMe + " "},
	} {
		t.Run(name, func(t *testing.T) {
			r := c.DoBody(t, u.Token, body)
			apitest.RequireCode(t, r, "PERSISTED_QUERY_NOT_IN_LIST")
			apitest.RequireNoDataEntry(t, r)
		})
	}
	r = c.Get(t, u.Token, url.Values{"query": {apitest.OpMe}})
	apitest.RequireCode(t, r, "PERSISTED_QUERY_NOT_IN_LIST")
	require.Zero(t, c.DB.Book.Query().CountX(t.Context()), "an operation outside the list ran")
}
