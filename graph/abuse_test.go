package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent/auditevent"
	"bitgate/internal/apitest"
)

// The defences of the "Abuse protection" table in docs/security.md: the
// lockout of an email, per-address limits, one auth mutation per request,
// and a bounded hashing pool.

// TestUnknownEmailCostsAHash checks that a sign-in for an unknown email is
// not answered faster than a hash could run (argon2id with m=19 MiB, t=2
// takes well over 5 ms on any CPU), so timing cannot tell which emails
// exist. Only a lower bound: a slow machine cannot make it fail.
func TestUnknownEmailCostsAHash(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	for range 3 {
		r := c.Do(t, "", apitest.OpSignIn, apitest.Credentials(apitest.Email(), "some password"))
		apitest.RequireCode(t, r, "UNAUTHENTICATED")
		require.GreaterOrEqual(t, r.Took, 5*time.Millisecond, "an unknown email was refused in %v: no hash was spent", r.Took)
	}
}

func TestAuthFieldsPerRequest(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	victim := c.SignUp(t).Email

	t.Run("200 aliased signins are refused as a whole", func(t *testing.T) {
		var q strings.Builder
		q.WriteString("mutation {")
		for i := range 200 { // 400 fields: under the field limit, so the auth cap refuses it
			fmt.Fprintf(&q, " a%d: signin(email: %q, password: \"guess-%d\") { accessToken }", i, victim, i)
		}
		q.WriteString(" }")
		r := c.Do(t, "", q.String(), nil)
		apitest.RequireCode(t, r, "RATE_LIMITED")
		require.Len(t, r.Errors, 1, "one refusal for the whole request: %s", r.Body)
		require.NotContains(t, string(r.Body), "accessToken")
		require.Zero(t, c.FailedSignIns(t, victim), "aliased sign-ins ran")
	})

	t.Run("aliases hidden in a fragment are counted", func(t *testing.T) {
		r := c.Do(t, "", `mutation { ...F } fragment F on Mutation {
			a: signin(email: "`+victim+`", password: "guess-a") { accessToken }
			b: signin(email: "`+victim+`", password: "guess-b") { accessToken } }`, nil)
		apitest.RequireCode(t, r, "RATE_LIMITED")
		require.Zero(t, c.FailedSignIns(t, victim), "aliased sign-ins ran")
	})

	t.Run("copies under one response key run once", func(t *testing.T) {
		other := apitest.Email()
		r := c.Do(t, "", `mutation {
			signin(email: "`+other+`", password: "guess") { accessToken }
			signin(email: "`+other+`", password: "guess") { refreshToken } }`, nil)
		apitest.RequireCode(t, r, "UNAUTHENTICATED")
		require.Equal(t, 1, c.FailedSignIns(t, other))
	})

	t.Run("two aliased refreshes are refused", func(t *testing.T) {
		u := c.SignUp(t)
		r := c.Do(t, "", `mutation($r: String!) {
			a: refresh(refreshToken: $r) { accessToken }
			b: refresh(refreshToken: $r) { accessToken } }`, apitest.Vars{"r": u.RefreshToken})
		apitest.RequireCode(t, r, "RATE_LIMITED")
		c.Refresh(t, u.RefreshToken) // nothing ran: the token is still unspent
	})

	t.Run("each mutation that checks a password or a second factor, twice", func(t *testing.T) {
		u := c.SignUp(t)
		for _, call := range []string{
			`enrollTotp(currentPassword: "guess") { secret }`,
			`confirmTotp(code: "000000")`,
			`disableTotp(currentPassword: "guess", code: "000000")`,
			`regenerateRecoveryCodes(currentPassword: "guess")`,
			`verifySecondFactor(code: "000000") { accessToken }`,
			`beginPasskeyRegistration(currentPassword: "guess")`,
			`finishPasskeyRegistration(response: {}) { id }`,
			`removePasskey(id: "` + u.ID + `", currentPassword: "guess")`,
			`finishPasskeyVerification(response: {}) { accessToken }`,
			`finishPasskeySignin(response: {}) { accessToken }`,
		} {
			r := c.Do(t, u.Token, "mutation { a: "+call+" b: "+call+" }", nil)
			apitest.RequireCode(t, r, "RATE_LIMITED")
			require.Len(t, r.Errors, 1, "%s ran: %s", call, r.Body)
		}
	})

	t.Run("one signup and one signin in one request", func(t *testing.T) {
		email := apitest.Email()
		r := c.Do(t, "", `mutation($in: SignupInput!, $e: String!, $p: String!) {
			signup(input: $in) { accessToken }
			signin(email: $e, password: $p) { accessToken } }`, apitest.Vars{
			"in": apitest.SignUpInput(email), "e": email, "p": apitest.Password,
		})
		require.NotEmpty(t, apitest.Data[apitest.AuthPayload](t, r, "signup").Token)
		require.NotEmpty(t, apitest.Data[apitest.AuthPayload](t, r, "signin").Token)
	})

	// gqlgen caches a document by its text. The cap must hold for the
	// operation that runs, however the document got into the cache.
	signins := func(name string, emails ...string) string {
		var q strings.Builder
		fmt.Fprintf(&q, "mutation %s {", name)
		for i, e := range emails {
			fmt.Fprintf(&q, " a%d: signin(email: %q, password: %q) { accessToken }", i, e, apitest.WrongPassword)
		}
		return q.String() + " }"
	}
	named := func(t *testing.T, query, operationName string) *apitest.Response {
		body, err := json.Marshal(apitest.Vars{"query": query, "operationName": operationName})
		require.NoError(t, err)
		return c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), body)
	}
	// checked counts the sign-ins that checked a password: each is audited
	// once, as signin or signin.failed (an unknown email costs a hash too).
	checked := func() int {
		return c.DB.AuditEvent.Query().Where(auditevent.ActionIn("signin", "signin.failed")).CountX(ctx)
	}
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = apitest.Email()
	}

	t.Run("a document cached under another operation name is counted again", func(t *testing.T) {
		doc := signins("Many", hundred...)
		before := checked()
		apitest.RequireCode(t, named(t, doc, "NoSuchOperation"), "GRAPHQL_VALIDATION_FAILED")
		r := named(t, doc, "Many")
		apitest.RequireCode(t, r, "RATE_LIMITED")
		require.Len(t, r.Errors, 1, "one refusal for the whole request: %s", r.Body)
		require.Equal(t, before, checked(), "aliased sign-ins of a cached document ran")
	})

	t.Run("the operation that runs is counted, not the one named when it was cached", func(t *testing.T) {
		doc := signins("One", apitest.Email()) + " " + signins("Many", hundred...)
		before := checked()
		apitest.RequireCode(t, named(t, doc, "One"), "UNAUTHENTICATED")
		require.Equal(t, before+1, checked(), "the one sign-in of One")
		for range 2 {
			apitest.RequireCode(t, named(t, doc, "Many"), "RATE_LIMITED")
		}
		require.Equal(t, before+1, checked(), "aliased sign-ins of a cached document ran")
	})

	t.Run("batched JSON array body", func(t *testing.T) {
		before := c.DB.AuditEvent.Query().CountX(ctx)
		op := apitest.Vars{"query": apitest.OpSignIn, "variables": apitest.Credentials(victim, apitest.Password)}
		bad := apitest.Vars{"query": apitest.OpSignIn, "variables": apitest.Credentials(victim, apitest.WrongPassword)}
		body, err := json.Marshal([]any{op, bad, op})
		require.NoError(t, err)
		r := c.Raw(t, http.MethodPost, "/graphql", apitest.Header(), body)
		apitest.RequireTransportError(t, r, 0)
		require.NotContains(t, string(r.Body), "accessToken")
		require.Equal(t, before, c.DB.AuditEvent.Query().CountX(ctx), "a batched sign-in ran")
		require.Zero(t, c.FailedSignIns(t, victim), "a batched sign-in ran")
	})
}

// TestHashingPoolFull floods sign-up with a pool of one hash and no queue:
// the callers that find it busy are refused at once with RATE_LIMITED,
// the others succeed.
func TestHashingPoolFull(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{HashWorkers: 1, HashQueue: -1})
	const n = 20
	answers := apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		return c.Post("", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())})
	})
	var ok, limited int
	var token string
	for i, r := range answers {
		switch r.Code() {
		case "":
			ok++
			token = apitest.Data[apitest.AuthPayload](t, r, "signup").Token
		case "RATE_LIMITED":
			limited++
		default:
			require.Failf(t, "unexpected answer", "request %d: %s", i, r.Body)
		}
	}
	t.Logf("%d signed up, %d RATE_LIMITED", ok, limited)
	require.Positive(t, ok, "no signup succeeded")
	require.Positive(t, limited, "the full pool never refused")
	c.Me(t, token)
}

// TestDistinctLargeQueriesAreNotKept sends anonymous, valid queries that
// are all different: some of 1 MB (a short query padded with spaces), some
// of 40 KB that parse to 20 000 list values. The parsed-query cache must
// not keep them all: the process's live heap (test and server) grows by
// less than the cache's bound of 8 MiB and some slack, where keeping them
// took about 150 MB. Not parallel: it measures the heap of the process.
func TestDistinctLargeQueriesAreNotKept(t *testing.T) {
	c := apitest.New(t)
	liveHeap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := liveHeap()
	for i := range 48 {
		q := fmt.Sprintf("query Q%d { __typename }", i)
		r := c.Do(t, "", q+strings.Repeat(" ", 1_000_000-len(q)), nil)
		require.JSONEq(t, `{"__typename": "Query"}`, string(r.Data), "%.300s", r.Body)
	}
	for i := range 24 {
		// Validation passes; the ids are refused when the field runs.
		q := fmt.Sprintf("query D%d { nodes(ids: [%s1]) { id } }", i, strings.Repeat("1,", 19_900))
		require.NotEmpty(t, c.Do(t, "", q, nil).Errors)
	}
	grown := int64(liveHeap()) - int64(before)
	require.Less(t, grown, int64(40<<20), "the live heap grew by %d MB", grown>>20)
}
