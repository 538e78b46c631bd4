package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/auth"
	"bitgate/ent"
	"bitgate/ent/auditevent"
	"bitgate/ent/lockout"
	"bitgate/internal/apitest"
	"bitgate/internal/ratelimit"
)

// Helpers of this file are prefixed hard.

const (
	hardWrongPassword = "definitely-the-wrong-password"
	hardSigninQuery   = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken refreshToken } }`
	hardSignupQuery   = `mutation($in: SignupInput!) { signup(input: $in) { accessToken refreshToken user { id } } }`
	hardRefreshQuery  = `mutation($r: String!) { refresh(refreshToken: $r) { accessToken refreshToken } }`
)

// hardEmail returns a fresh email address.
func hardEmail(prefix string) string {
	return prefix + "-" + uuid.NewString()[:8] + "@example.com"
}

// hardGQL posts a GraphQL operation with extra headers and an optional token.
func hardGQL(t testing.TB, s *apitest.Server, token string, h http.Header, query string, vars map[string]any) *apitest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	hdr := http.Header{"Content-Type": {"application/json"}}
	for k, v := range h {
		hdr[k] = v
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	return s.Raw(t, http.MethodPost, "/graphql", hdr, body)
}

// hardSignin signs in with extra headers and returns the raw answer.
func hardSignin(t testing.TB, s *apitest.Server, h http.Header, email, password string) *apitest.Response {
	t.Helper()
	return hardGQL(t, s, "", h, hardSigninQuery, map[string]any{"e": email, "p": password})
}

// hardRequireCode requires the first error of r to carry code, and returns it.
func hardRequireCode(t testing.TB, r *apitest.Response, code string) apitest.Error {
	t.Helper()
	require.NotEmpty(t, r.Errors, "want %s, got no error: %s", code, r.Body)
	require.Equal(t, code, r.Code(), "want %s: %s", code, r.Body)
	return r.Errors[0]
}

// hardRetryAfter requires r to be RATE_LIMITED and returns its retryAfter,
// which must be a whole number of seconds.
func hardRetryAfter(t testing.TB, r *apitest.Response) int {
	t.Helper()
	e := hardRequireCode(t, r, "RATE_LIMITED")
	f, ok := e.Extensions["retryAfter"].(float64)
	require.True(t, ok, "retryAfter is not a number: %s", r.Body)
	require.Equal(t, float64(int(f)), f, "retryAfter is not an integer: %s", r.Body)
	return int(f)
}

// hardLockoutRows returns how many lockout rows exist for email (any case).
func hardLockoutRows(t testing.TB, s *apitest.Server, email string) int {
	t.Helper()
	n, err := s.Client.Lockout.Query().Where(lockout.Email(strings.ToLower(email))).Count(context.Background())
	require.NoError(t, err)
	return n
}

// hardFailures returns the recorded failure count of email, 0 if none.
func hardFailures(t testing.TB, s *apitest.Server, email string) int {
	t.Helper()
	l, err := s.Client.Lockout.Query().Where(lockout.Email(strings.ToLower(email))).Only(context.Background())
	if ent.IsNotFound(err) {
		return 0
	}
	require.NoError(t, err, "load lockout")
	return l.Failures
}

// hardRequireLocked requires sign-in of email with password to answer
// RATE_LIMITED with a retryAfter within the 15 minute lock, and returns
// the error.
func hardRequireLocked(t testing.TB, s *apitest.Server, email, password string) apitest.Error {
	t.Helper()
	r := hardSignin(t, s, nil, email, password)
	ra := hardRetryAfter(t, r)
	require.Greater(t, ra, 0, "retryAfter: %s", r.Body)
	require.LessOrEqual(t, ra, 900, "retryAfter: %s", r.Body)
	require.Contains(t, string(r.Body), `"data":null`, "a locked sign-in returned data: %s", r.Body)
	return r.Errors[0]
}

// hardFail signs in n times with a wrong password, each UNAUTHENTICATED.
func hardFail(t testing.TB, s *apitest.Server, email string, n int) {
	t.Helper()
	for range n {
		hardRequireCode(t, hardSignin(t, s, nil, email, hardWrongPassword), "UNAUTHENTICATED")
	}
}

// hardRequireSignin requires a successful sign-in.
func hardRequireSignin(t testing.TB, s *apitest.Server, email, password string) {
	t.Helper()
	r := hardSignin(t, s, nil, email, password)
	require.Empty(t, r.Errors, "sign-in of %s refused: %s", email, r.Body)
	require.Contains(t, string(r.Body), `"accessToken":"`)
}

// hardBookStillWorks requires a plain query to answer normally.
func hardBookStillWorks(t testing.TB, s *apitest.Server) {
	t.Helper()
	r := s.Query(t, "", `{ book(id: "`+uuid.NewString()+`") { id } }`, nil)
	require.Equal(t, http.StatusOK, r.Status, "follow-up query: %s", r.Body)
	require.JSONEq(t, `{"book":null}`, string(r.Data), "follow-up query: %s", r.Body)
	require.Empty(t, r.Errors, "follow-up query: %s", r.Body)
}

func TestHardeningLockout(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})

	t.Run("five failures lock the email whatever the password", func(t *testing.T) {
		t.Parallel()
		email := hardEmail("lock")
		s.Signup(t, email)
		// The count is per normalised email: case and blanks do not help.
		for _, e := range []string{email, strings.ToUpper(email), " " + email, email, email} {
			hardRequireCode(t, hardSignin(t, s, nil, e, hardWrongPassword), "UNAUTHENTICATED")
		}
		require.Equal(t, 5, hardFailures(t, s, email))
		hardRequireLocked(t, s, email, apitest.Password)
		hardRequireLocked(t, s, strings.ToUpper(email), apitest.Password)
		hardRequireLocked(t, s, email, hardWrongPassword)
		l, err := s.Client.Lockout.Query().Where(lockout.Email(email)).Only(context.Background())
		require.NoError(t, err)
		require.NotNil(t, l.LockedUntil, "lock not stored")
		require.WithinDuration(t, time.Now().Add(15*time.Minute), *l.LockedUntil, time.Minute)

		// Another email is unaffected.
		other := hardEmail("other")
		s.Signup(t, other)
		hardRequireSignin(t, s, other, apitest.Password)

		// Once the lock is over, the right password works and resets the count.
		n, err := s.Client.Lockout.Update().Where(lockout.Email(email)).
			SetLockedUntil(time.Now().Add(-time.Second)).Save(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		hardRequireSignin(t, s, email, apitest.Password)
		require.Equal(t, 0, hardFailures(t, s, email), "success did not reset the count")
	})

	t.Run("an unknown email locks alike", func(t *testing.T) {
		t.Parallel()
		known, unknown := hardEmail("known"), hardEmail("unknown")
		s.Signup(t, known)
		for range 5 {
			rk := hardSignin(t, s, nil, known, hardWrongPassword)
			ru := hardSignin(t, s, nil, unknown, hardWrongPassword)
			ek, eu := hardRequireCode(t, rk, "UNAUTHENTICATED"), hardRequireCode(t, ru, "UNAUTHENTICATED")
			require.Equal(t, ek.Message, eu.Message, "unknown and known emails answer differently")
		}
		lk := hardRequireLocked(t, s, known, apitest.Password)
		lu := hardRequireLocked(t, s, unknown, apitest.Password)
		require.Equal(t, lk.Message, lu.Message, "locks of unknown and known emails differ")
		require.Equal(t, 1, hardLockoutRows(t, s, unknown), "unknown email's lock not stored")
	})

	t.Run("a success resets the count", func(t *testing.T) {
		t.Parallel()
		email := hardEmail("reset")
		s.Signup(t, email)
		hardFail(t, s, email, 4)
		require.Equal(t, 4, hardFailures(t, s, email))
		hardRequireSignin(t, s, email, apitest.Password)
		require.Equal(t, 0, hardFailures(t, s, email))
		hardFail(t, s, email, 4)
		require.Equal(t, 4, hardFailures(t, s, email))
		hardRequireSignin(t, s, email, apitest.Password)
	})
}

func TestHardeningLockoutSurvivesRestart(t *testing.T) {
	t.Parallel()
	s1 := apitest.New(t, apitest.Options{})
	email := hardEmail("restart")
	s1.Signup(t, email)
	hardFail(t, s1, email, 5)
	hardRequireLocked(t, s1, email, apitest.Password)

	s2 := apitest.New(t, apitest.Options{DatabaseURL: s1.DBURL})
	hardRequireLocked(t, s2, email, apitest.Password)
}

func TestHardeningAddressLimits(t *testing.T) {
	t.Parallel()
	limiter := func() *ratelimit.Limiter { return ratelimit.New(0.001, 3) }
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	// pass requires a call that the limiter let through.
	pass := func(t *testing.T, r *apitest.Response) {
		t.Helper()
		require.NotEqual(t, "RATE_LIMITED", r.Code(), "limited too early: %s", r.Body)
	}
	limited := func(t *testing.T, r *apitest.Response) {
		t.Helper()
		require.GreaterOrEqual(t, hardRetryAfter(t, r), 1, "retryAfter: %s", r.Body)
	}

	t.Run("signin", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{Limiter: limiter()})
		for range 3 {
			hardRequireCode(t, hardSignin(t, s, nil, hardEmail("nobody"), hardWrongPassword), "UNAUTHENTICATED")
		}
		limited(t, hardSignin(t, s, nil, hardEmail("nobody"), hardWrongPassword))
		// Each operation has its own bucket.
		s.Signup(t, hardEmail("still-signs-up"))
	})

	t.Run("X-Forwarded-For of a trusted proxy names the client", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{
			Limiter:        limiter(),
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		})
		for range 3 {
			pass(t, hardSignin(t, s, xff("203.0.113.1"), hardEmail("nobody"), hardWrongPassword))
		}
		limited(t, hardSignin(t, s, xff("203.0.113.1"), hardEmail("nobody"), hardWrongPassword))
		// A forged hop to the left does not make a new client.
		limited(t, hardSignin(t, s, xff("198.51.100.7, 203.0.113.1"), hardEmail("nobody"), hardWrongPassword))
		// Other forwarded addresses have their own buckets.
		for i := range 5 {
			pass(t, hardSignin(t, s, xff(fmt.Sprintf("203.0.113.%d", 10+i)), hardEmail("nobody"), hardWrongPassword))
		}
	})

	t.Run("X-Forwarded-For of anyone else is ignored", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{Limiter: limiter()})
		for i := range 3 {
			pass(t, hardSignin(t, s, xff(fmt.Sprintf("203.0.113.%d", i)), hardEmail("nobody"), hardWrongPassword))
		}
		limited(t, hardSignin(t, s, xff("203.0.113.99"), hardEmail("nobody"), hardWrongPassword))
		limited(t, hardSignin(t, s, nil, hardEmail("nobody"), hardWrongPassword))
	})

	t.Run("signup", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{Limiter: limiter()})
		signup := func() *apitest.Response {
			return hardGQL(t, s, "", nil, hardSignupQuery, map[string]any{"in": map[string]any{
				"firstName": "A", "lastName": "B", "email": hardEmail("su"), "password": "short",
			}})
		}
		for range 3 {
			hardRequireCode(t, signup(), "BAD_USER_INPUT")
		}
		limited(t, signup())
	})

	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{Limiter: limiter()})
		refresh := func() *apitest.Response {
			return hardGQL(t, s, "", nil, hardRefreshQuery, map[string]any{"r": "not-a-refresh-token-" + uuid.NewString()})
		}
		for range 3 {
			hardRequireCode(t, refresh(), "UNAUTHENTICATED")
		}
		limited(t, refresh())
	})
}

func TestHardeningAuthFieldsPerRequest(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	victim := hardEmail("victim")
	s.Signup(t, victim)

	t.Run("500 aliased signins are refused as a whole", func(t *testing.T) {
		var q strings.Builder
		q.WriteString("mutation {")
		for i := range 500 {
			fmt.Fprintf(&q, " a%d: signin(email: %q, password: \"guess-%d\") { accessToken }", i, victim, i)
		}
		q.WriteString(" }")
		r := s.Query(t, "", q.String(), nil)
		hardRetryAfter(t, r)
		require.Len(t, r.Errors, 1, "one refusal for the whole request: %s", r.Body)
		require.NotContains(t, string(r.Body), "accessToken")
		require.Equal(t, 0, hardLockoutRows(t, s, victim), "aliased sign-ins ran")
	})

	t.Run("aliases hidden in a fragment are counted", func(t *testing.T) {
		r := s.Query(t, "", `mutation { ...F } fragment F on Mutation {
			a: signin(email: "`+victim+`", password: "guess-a") { accessToken }
			b: signin(email: "`+victim+`", password: "guess-b") { accessToken } }`, nil)
		hardRetryAfter(t, r)
		require.Equal(t, 0, hardLockoutRows(t, s, victim), "aliased sign-ins ran")
	})

	t.Run("copies under one response key run once", func(t *testing.T) {
		other := hardEmail("once")
		r := s.Query(t, "", `mutation {
			signin(email: "`+other+`", password: "guess") { accessToken }
			signin(email: "`+other+`", password: "guess") { refreshToken } }`, nil)
		hardRequireCode(t, r, "UNAUTHENTICATED")
		require.Equal(t, 1, hardFailures(t, s, other))
	})

	t.Run("two aliased refreshes are refused", func(t *testing.T) {
		p := s.Signup(t, hardEmail("refresh"))
		r := s.Query(t, "", `mutation($r: String!) {
			a: refresh(refreshToken: $r) { accessToken }
			b: refresh(refreshToken: $r) { accessToken } }`, map[string]any{"r": p.RefreshToken})
		hardRetryAfter(t, r)
		// Nothing ran: the token is still unspent.
		r = s.Query(t, "", hardRefreshQuery, map[string]any{"r": p.RefreshToken})
		require.Empty(t, r.Errors, "refresh token was spent by the refused request: %s", r.Body)
	})

	t.Run("one signup and one signin in one request", func(t *testing.T) {
		email := hardEmail("both")
		var out struct {
			Signup struct{ AccessToken string }
			Signin struct{ AccessToken string }
		}
		s.Query(t, "", `mutation($in: SignupInput!, $e: String!, $p: String!) {
			signup(input: $in) { accessToken }
			signin(email: $e, password: $p) { accessToken } }`, map[string]any{
			"in": map[string]any{"firstName": "A", "lastName": "B", "email": email, "password": apitest.Password},
			"e":  email, "p": apitest.Password,
		}).Decode(t, &out)
		require.NotEmpty(t, out.Signup.AccessToken)
		require.NotEmpty(t, out.Signin.AccessToken)
	})

	t.Run("batched JSON array body", func(t *testing.T) {
		before, err := s.Client.AuditEvent.Query().Count(ctx)
		require.NoError(t, err)
		op := map[string]any{"query": hardSigninQuery, "variables": map[string]any{"e": victim, "p": apitest.Password}}
		bad := map[string]any{"query": hardSigninQuery, "variables": map[string]any{"e": victim, "p": hardWrongPassword}}
		body, err := json.Marshal([]any{op, bad, op})
		require.NoError(t, err)
		r := s.Raw(t, http.MethodPost, "/graphql", http.Header{"Content-Type": {"application/json"}}, body)
		require.GreaterOrEqual(t, r.Status, 400, "batch accepted: %s", r.Body)
		require.NotEmpty(t, r.Errors, "4xx without a JSON errors array: %s", r.Body)
		require.NotContains(t, string(r.Body), "accessToken")
		after, err := s.Client.AuditEvent.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, before, after, "a batched sign-in ran")
		require.Equal(t, 0, hardLockoutRows(t, s, victim), "a batched sign-in ran")
	})
}

// hardNested returns open, then inner, then as many closing braces.
func hardNested(open string, n int, inner string) string {
	return strings.Repeat(open+" { ", n) + inner + strings.Repeat(" }", n)
}

func TestHardeningHostileInputs(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	user := s.Signup(t, hardEmail("hostile"))

	gql := func(query string, vars map[string]any) []byte {
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		require.NoError(t, err)
		return b
	}
	var fanOut strings.Builder
	fanOut.WriteString("query { ...F0 }\n")
	for i := range 20 {
		fmt.Fprintf(&fanOut, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fanOut.WriteString("fragment F20 on Query { __typename books(first: 100) { totalCount } }\n")
	var bomb strings.Builder
	bomb.WriteString("{")
	for i := range 10 {
		fmt.Fprintf(&bomb, ` u%d: users(first: 100) { edges { node { id email } } }`, i)
		fmt.Fprintf(&bomb, ` b%d: books(first: 100) { edges { node { id title } } }`, i)
		fmt.Fprintf(&bomb, ` n%d: notes(first: 100) { edges { node { id owner { id } } } }`, i)
	}
	bomb.WriteString(" }")
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 100_000 {
		fmt.Fprintf(&aliases, "a%d:__typename ", i)
	}
	aliases.WriteString("}")
	var aliases60k strings.Builder
	aliases60k.WriteString("{")
	for i := range 60_000 {
		fmt.Fprintf(&aliases60k, "a%x:__typename ", i)
	}
	aliases60k.WriteString("}")
	booksFirst := `query($first: Int) { books(first: $first) { totalCount } }`
	signupNUL := map[string]any{"in": map[string]any{
		"firstName": "Nul\u0000Byte", "lastName": "B", "email": hardEmail("nul"), "password": apitest.Password,
	}}
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
		{name: "100 nested me", body: gql("{ "+hardNested("me", 100, "id")+" }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "100 nested ofType", body: gql("{ __schema { types { "+hardNested("ofType", 100, "name")+" } } }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "circular fragments", body: gql("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }", nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "exponential fragment fan-out", token: true, body: gql(fanOut.String(), nil)},
		{name: "10 MB body", body: append(append([]byte(`{"query":"{ __typename }","x":"`), bytes.Repeat([]byte("A"), 10<<20)...), '"', '}'), status: http.StatusRequestEntityTooLarge},
		{name: "invalid UTF-8 in a string", body: []byte("{\"query\":\"{ book(id: \\\"\xff\xfe\xfd\\\") { id } }\"}"), code: "BAD_USER_INPUT", field: "id"},
		{name: "invalid UTF-8 in the query", body: []byte("{\"query\":\"{ \xff\xfe }\"}"), code: "GRAPHQL_PARSE_FAILED"},
		{name: "invalid UTF-8 in a variable name", body: []byte("{\"query\":\"{ __typename }\",\"variables\":{\"\xc3\x28\":1}}")},
		{name: "string for an Int variable", token: true, body: gql(booksFirst, map[string]any{"first": "abc"}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "object for an ID variable", body: gql(`query($id: ID!) { book(id: $id) { id } }`, map[string]any{"id": map[string]any{"a": 1}}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "NUL in signup names", body: gql(hardSignupQuery, signupNUL), code: "BAD_USER_INPUT", field: "firstName"},
		{name: "NUL in a note title", token: true, body: gql(`mutation($t: String!) { createNote(input: {title: $t, content: "c"}) { id } }`, map[string]any{"t": "a\u0000b"}), code: "BAD_USER_INPUT", field: "title"},
		{name: "first 1e30 variable", token: true, body: []byte(`{"query":"` + booksFirst + `","variables":{"first":1e30}}`), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "first 1e30 literal", token: true, body: gql(`{ books(first: 1e30) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "first 2^31", token: true, body: gql(booksFirst, map[string]any{"first": 2147483648}), code: "BAD_USER_INPUT", field: "first"},
		{name: "first -2^31-1", token: true, body: gql(`{ books(first: -2147483649) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "first"},
		{name: "first 10^23 literal", token: true, body: gql(`{ books(first: 99999999999999999999999) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "complexity bomb", token: true, body: gql(bomb.String(), nil), code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "JSON variables 10000 deep", body: deepJSON(10_000)},
		{name: "JSON variables 100000 deep", body: deepJSON(100_000), code: "GRAPHQL_PARSE_FAILED"},
		{name: "100k aliases of __typename", body: gql(aliases.String(), nil), status: http.StatusRequestEntityTooLarge},
		{name: "60k aliases of __typename", body: gql(aliases60k.String(), nil), code: "GRAPHQL_PARSE_FAILED"},
		{name: "text/plain body", ctype: "text/plain", body: gql("{ __typename }", nil), status: http.StatusUnsupportedMediaType},
		{name: "empty body", body: nil, code: "GRAPHQL_PARSE_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			if tc.token {
				h.Set("Authorization", "Bearer "+user.AccessToken)
			}
			start := time.Now()
			r := s.Raw(t, http.MethodPost, "/graphql", h, tc.body)
			require.Less(t, time.Since(start), 5*time.Second, "too slow to answer")
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
				e := hardRequireCode(t, r, tc.code)
				if tc.field != "" {
					require.Equal(t, tc.field, e.Extensions["field"], "field: %s", r.Body)
				}
			}
			hardBookStillWorks(t, s)
		})
	}
}

// TestHardeningHugeDocumentsRefusedBeforeValidation sends documents whose
// validation would take time growing with the square of their fields: they
// must be refused at once, before gqlgen validates them.
func TestHardeningHugeDocumentsRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	for _, n := range []int{501, 8000, 19_000} {
		query := "{" + strings.Repeat(" __typename", n) + " }"
		start := time.Now()
		r := s.Query(t, "", query, nil)
		took := time.Since(start)
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code(), "%d fields: %s", n, r.Body)
		require.Less(t, took, time.Second,
			"a %d-byte document of one repeated field took %v to answer (%s...)", len(query), took, r.Body[:min(len(r.Body), 200)])
	}
	hardBookStillWorks(t, s)
}

func TestHardeningProductionMode(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{Production: true})
	r := s.Raw(t, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Status, "playground in production: %s", r.Body)

	r = s.Query(t, "", `{ __schema { queryType { name } } }`, nil)
	require.NotEmpty(t, r.Errors, "introspection answered in production: %s", r.Body)
	require.NotContains(t, string(r.Body), `"queryType":{`)
	require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "introspection refusal reported as an internal error: %s", r.Body)

	hardBookStillWorks(t, s)
	var out struct {
		Typename string `json:"__typename"`
	}
	s.Query(t, "", `{ __typename }`, nil).Decode(t, &out)
	require.Equal(t, "Query", out.Typename)
}

func TestHardeningSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name, method, path string
		h                  http.Header
		body               []byte
		status             int
	}{
		{"graphql POST", http.MethodPost, "/graphql", jsonCT, []byte(`{"query":"{ __typename }"}`), 200},
		{"graphql GET", http.MethodGet, "/graphql?query=%7B__typename%7D", nil, nil, 200},
		{"graphql error", http.MethodPost, "/graphql", jsonCT, []byte(`{"query":"{ nope }"}`), 422},
		{"healthz", http.MethodGet, "/healthz", nil, nil, 200},
		{"not found", http.MethodGet, "/no/such/page", nil, nil, 404},
		{"too large", http.MethodPost, "/graphql", jsonCT, bytes.Repeat([]byte(" "), 2<<20), 413},
		{"wrong method", http.MethodPut, "/graphql", jsonCT, nil, 405},
		{"playground", http.MethodGet, "/", nil, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Raw(t, tc.method, tc.path, tc.h, tc.body)
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
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.sent != "" {
				h.Set("X-Request-ID", tc.sent)
			}
			r := s.Raw(t, http.MethodPost, "/graphql", h, []byte(`{"query":"{ __typename }"}`))
			got := r.Header.Get("X-Request-ID")
			if tc.want != "" {
				require.Equal(t, tc.want, got, "X-Request-ID %q", tc.sent)
			} else {
				require.Regexp(t, `^[0-9a-f]{16}$`, got, "X-Request-ID %q", tc.sent)
			}
		}
	})
}

func TestHardeningCORS(t *testing.T) {
	t.Parallel()
	preflight := func(t *testing.T, s *apitest.Server, origin string) *apitest.Response {
		t.Helper()
		return s.Raw(t, http.MethodOptions, "/graphql", http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type"},
		}, nil)
	}
	post := func(t *testing.T, s *apitest.Server, origin string) *apitest.Response {
		t.Helper()
		return s.Raw(t, http.MethodPost, "/graphql", http.Header{
			"Origin": {origin}, "Content-Type": {"application/json"},
		}, []byte(`{"query":"{ __typename }"}`))
	}

	t.Run("no origin is allowed by default", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{})
		r := preflight(t, s, "https://evil.example")
		require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "default CORS allows any origin (preflight)")
		r = post(t, s, "https://evil.example")
		require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "default CORS allows any origin (POST)")
	})

	t.Run("an allow-list", func(t *testing.T) {
		t.Parallel()
		s := apitest.New(t, apitest.Options{CORSOrigins: []string{"https://app.example"}})
		r := preflight(t, s, "https://app.example")
		require.Less(t, r.Status, 300)
		require.Equal(t, "https://app.example", r.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "authorization")
		r = post(t, s, "https://app.example")
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "https://app.example", r.Header.Get("Access-Control-Allow-Origin"))
		for _, evil := range []string{"https://evil.example", "https://app.example.evil.example", "http://app.example"} {
			require.Empty(t, preflight(t, s, evil).Header.Get("Access-Control-Allow-Origin"), evil)
			require.Empty(t, post(t, s, evil).Header.Get("Access-Control-Allow-Origin"), evil)
		}
	})
}

func TestHardeningHashingPoolFull(t *testing.T) {
	t.Parallel()
	hasher := auth.NewHasher(1, 0)
	t.Cleanup(hasher.Close)
	s := apitest.New(t, apitest.Options{Hasher: hasher})
	const n = 20
	results, errs := apitest.Concurrently(n, func(i int) (*apitest.Response, error) {
		return s.Post("", hardSignupQuery, map[string]any{"in": map[string]any{
			"firstName": "A", "lastName": "B", "email": hardEmail(fmt.Sprint("flood", i)), "password": apitest.Password,
		}})
	})

	var ok, limited int
	var token string
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		r.Check(t)
		switch r.Code() {
		case "":
			ok++
			var out struct{ Signup struct{ AccessToken string } }
			r.Decode(t, &out)
			token = out.Signup.AccessToken
		case "RATE_LIMITED":
			limited++
			require.Contains(t, string(r.Body), `"retryAfter":`, "request %d: %s", i, r.Body)
			require.Less(t, r.Took, 3*time.Second, "request %d waited for a slot: %s", i, r.Body)
		default:
			require.Failf(t, "unexpected answer", "request %d: %s", i, r.Body)
		}
	}
	t.Logf("%d signed up, %d RATE_LIMITED", ok, limited)
	require.Positive(t, ok, "no signup succeeded")
	require.Positive(t, limited, "the full pool never refused")

	var me struct{ Me apitest.User }
	s.Query(t, token, `{ me { id } }`, nil).Decode(t, &me)
	require.NotEmpty(t, me.Me.ID)
}

func TestHardeningAuditTrail(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{ReuseGrace: time.Millisecond})
	ctx := context.Background()
	admin := s.User(t, hardEmail("admin"), 2048)
	free := s.Signup(t, hardEmail("free"))

	// Alice signs in, fails once, has a refresh token replayed, signs out.
	aliceEmail := hardEmail("alice")
	alice := s.Signup(t, aliceEmail)
	hardRequireSignin(t, s, aliceEmail, apitest.Password)
	hardRequireCode(t, hardSignin(t, s, nil, aliceEmail, hardWrongPassword), "UNAUTHENTICATED")
	var rotated struct{ Refresh apitest.Payload }
	s.Query(t, "", hardRefreshQuery, map[string]any{"r": alice.RefreshToken}).Decode(t, &rotated)
	time.Sleep(20 * time.Millisecond)
	hardRequireCode(t, s.Query(t, "", hardRefreshQuery, map[string]any{"r": alice.RefreshToken}), "UNAUTHENTICATED")
	signin := s.Signin(t, aliceEmail, apitest.Password)
	r := hardGQL(t, s, signin.AccessToken, http.Header{"X-Request-ID": {"audit-signout-1"}}, `mutation { signout }`, nil)
	require.Empty(t, r.Errors, "signout: %s", r.Body)

	// Bob gets locked out.
	bobEmail := hardEmail("bob")
	bob := s.Signup(t, bobEmail)
	hardFail(t, s, bobEmail, 5)
	hardRequireLocked(t, s, bobEmail, apitest.Password)

	// The admin promotes, then deletes Carol.
	carol := s.Signup(t, hardEmail("carol"))
	r = s.Query(t, admin.AccessToken, `mutation($id: ID!) { updateUser(id: $id, input: {permissionLevel: 5}) { id } }`,
		map[string]any{"id": carol.User.ID})
	require.Empty(t, r.Errors, "promote: %s", r.Body)
	r = s.Query(t, admin.AccessToken, `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": carol.User.ID})
	require.Empty(t, r.Errors, "delete: %s", r.Body)

	type event struct {
		Action    string
		UserID    *string
		ActorID   *string
		ClientIP  string
		RequestID string
		Detail    string
		CreatedAt time.Time
	}
	const query = `query($first: Int, $last: Int) { auditEvents(first: $first, last: $last) {
		totalCount pageInfo { hasNextPage hasPreviousPage }
		edges { node { action userID actorID clientIP requestID detail createdAt } } } }`
	var out struct {
		AuditEvents struct {
			TotalCount int
			PageInfo   struct{ HasNextPage, HasPreviousPage bool }
			Edges      []struct{ Node event }
		}
	}
	s.Query(t, admin.AccessToken, query, map[string]any{"last": 50}).Decode(t, &out)
	stored, err := s.Client.AuditEvent.Query().Count(ctx)
	require.NoError(t, err)
	require.Equal(t, stored, out.AuditEvents.TotalCount)
	require.Less(t, stored, 50, "more events than one page holds")
	require.Len(t, out.AuditEvents.Edges, stored)

	var events []event
	for i, e := range out.AuditEvents.Edges {
		events = append(events, e.Node)
		if i > 0 {
			require.False(t, e.Node.CreatedAt.Before(events[i-1].CreatedAt), "events not oldest first")
		}
	}
	find := func(t *testing.T, action, userID string) event {
		t.Helper()
		for _, e := range events {
			if e.Action == action && (userID == "" && e.UserID == nil || e.UserID != nil && *e.UserID == userID) {
				return e
			}
		}
		require.Failf(t, "event missing", "no %s event for user %q in %+v", action, userID, events)
		return event{}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, tc := range []struct {
		action, user, actor string
		count               int
	}{
		{"signin", alice.User.ID, "", 2},
		{"signin.failed", alice.User.ID, "", 1},
		{"signin.failed", bob.User.ID, "", 5},
		{"signin.locked", bob.User.ID, "", 1},
		{"refresh.reuse_detected", alice.User.ID, "", 1},
		{"signout", alice.User.ID, "", 1},
		{"user.permission_changed", carol.User.ID, admin.User.ID, 1},
		{"user.deleted", carol.User.ID, admin.User.ID, 1},
	} {
		t.Run(tc.action, func(t *testing.T) {
			e := find(t, tc.action, tc.user)
			require.Equal(t, tc.actor, str(e.ActorID), "actorID of %+v", e)
			require.Equal(t, "127.0.0.1", e.ClientIP, "clientIP of %+v", e)
			require.NotEmpty(t, e.RequestID, "requestID of %+v", e)
			require.False(t, e.CreatedAt.IsZero())
			n := 0
			for _, o := range events {
				if o.Action == tc.action && str(o.UserID) == tc.user {
					n++
				}
			}
			require.Equal(t, tc.count, n, "%s events of %s", tc.action, tc.user)
		})
	}
	require.Equal(t, "audit-signout-1", find(t, "signout", alice.User.ID).RequestID)
	require.Contains(t, find(t, "user.permission_changed", carol.User.ID).Detail, "5")
	for _, e := range events {
		for _, secret := range []string{apitest.Password, hardWrongPassword, alice.RefreshToken, alice.AccessToken} {
			require.NotContains(t, e.Detail, secret, "event %+v holds a secret", e)
		}
	}
	n, err := s.Client.AuditEvent.Query().Where(auditevent.Action("signin.failed"), auditevent.UserIDIsNil()).Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no unknown-email failures were made")

	t.Run("pagination", func(t *testing.T) {
		var page struct {
			AuditEvents struct {
				PageInfo struct{ HasNextPage bool }
				Edges    []struct{ Node event }
			}
		}
		s.Query(t, admin.AccessToken, query, map[string]any{"first": 2}).Decode(t, &page)
		require.Len(t, page.AuditEvents.Edges, 2)
		require.True(t, page.AuditEvents.PageInfo.HasNextPage)
		require.Equal(t, events[0].Action, page.AuditEvents.Edges[0].Node.Action)
	})
	t.Run("FREE is forbidden", func(t *testing.T) {
		hardRequireCode(t, s.Query(t, free.AccessToken, query, map[string]any{"first": 10}), "FORBIDDEN")
	})
	t.Run("anonymous is unauthenticated", func(t *testing.T) {
		hardRequireCode(t, s.Query(t, "", query, map[string]any{"first": 10}), "UNAUTHENTICATED")
	})
	t.Run("first 101", func(t *testing.T) {
		e := hardRequireCode(t, s.Query(t, admin.AccessToken, query, map[string]any{"first": 101}), "BAD_USER_INPUT")
		require.Equal(t, "first", e.Extensions["field"])
	})
}

// hardLog is a log writer safe for concurrent use.
type hardLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *hardLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *hardLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Take returns what was written since the last Take, and forgets it.
func (l *hardLog) Take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func TestHardeningLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &hardLog{}
	s := apitest.New(t, apitest.Options{LogWriter: logs, ReuseGrace: time.Millisecond})
	email := hardEmail("logs")
	const newPassword = "brand new s3cret passphrase"
	secrets := []string{apitest.Password, newPassword, hardWrongPassword, string(apitest.Secret)}

	p := s.Signup(t, email)
	secrets = append(secrets, p.AccessToken, p.RefreshToken)
	p = s.Signin(t, email, apitest.Password)
	secrets = append(secrets, p.AccessToken, p.RefreshToken)
	hardRequireCode(t, hardSignin(t, s, nil, email, hardWrongPassword), "UNAUTHENTICATED")
	var rotated struct{ Refresh apitest.Payload }
	s.Query(t, "", hardRefreshQuery, map[string]any{"r": p.RefreshToken}).Decode(t, &rotated)
	secrets = append(secrets, rotated.Refresh.AccessToken, rotated.Refresh.RefreshToken)
	time.Sleep(10 * time.Millisecond)
	hardRequireCode(t, s.Query(t, "", hardRefreshQuery, map[string]any{"r": p.RefreshToken}), "UNAUTHENTICATED")
	p = s.Signin(t, email, apitest.Password)
	secrets = append(secrets, p.AccessToken, p.RefreshToken)
	r := s.Query(t, p.AccessToken, `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id } }`,
		map[string]any{"id": p.User.ID, "in": map[string]any{"password": newPassword, "currentPassword": apitest.Password}})
	require.Empty(t, r.Errors, "password change: %s", r.Body)
	// A wrong currentPassword, a malformed token and a bad JSON body with a
	// password in it.
	r = s.Query(t, p.AccessToken, `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id } }`,
		map[string]any{"id": p.User.ID, "in": map[string]any{"password": newPassword, "currentPassword": hardWrongPassword}})
	hardRequireCode(t, r, "UNAUTHENTICATED")
	s.Query(t, p.AccessToken+"x", `{ me { id } }`, nil)
	s.Raw(t, http.MethodPost, "/graphql", http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"query":"mutation { signin(email: \"`+email+`\", password: \"`+newPassword+`\") { accessToken } }"`))
	p = s.Signin(t, email, newPassword)
	secrets = append(secrets, p.AccessToken, p.RefreshToken)

	out := logs.String()
	require.Contains(t, out, "signin.failed", "the log was not captured")
	require.Contains(t, out, "user.password_changed", "the log was not captured")
	for i, line := range strings.Split(out, "\n") {
		for _, secret := range secrets {
			require.NotContains(t, line, secret, "log line %d holds a secret", i)
		}
		// Nor any part of a JWT (its signature is the secret part).
		require.NotRegexp(t, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.`), line, "log line %d holds a JWT", i)
	}
}
