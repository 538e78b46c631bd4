package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/persisted"
)

// The database breaks under a running server the ways databases break:
// every request that needs it answers SERVICE_UNAVAILABLE with retryAfter
// (HTTP 503 with Retry-After when nothing of it could be served) within
// the configured bounds, and the server recovers by itself when the fault
// ends.

// bound is how long a request may take to be answered when the database
// hangs and the server's bounds are a fraction of a second: far above
// them, far below "until the client gives up".
const bound = 5 * time.Second

func TestDatabaseOutages(t *testing.T) {
	t.Parallel()

	// SQLite's busy timeout is 10 s; the database call timeout ends the
	// wait first.
	t.Run("writes locked past the call timeout", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, apitest.Options{DBTimeout: time.Second})
		u := c.SignUp(t)
		release := c.LockWrites(t)
		r := c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())})
		apitest.RequireUnavailable(t, r)
		require.Less(t, r.Took, bound, "answered late")
		c.Me(t, u.Token) // reads are served meanwhile
		release()
		c.SignUp(t)
	})

	// The request deadline bounds a request whatever the database calls
	// allow.
	t.Run("the request deadline", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, apitest.Options{RequestTimeout: 300 * time.Millisecond, DBTimeout: time.Minute})
		c.LockWrites(t)
		r := c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())})
		apitest.RequireUnavailable(t, r)
		require.Less(t, r.Took, bound, "answered late")
	})

	// PostgreSQL stopped (SIGSTOP): connections stay open, nothing
	// answers.
	t.Run("PostgreSQL frozen", func(t *testing.T) {
		t.Parallel()
		url, proxy := apitest.PostgresBehindProxy(t)
		c := apitest.New(t, apitest.Options{DatabaseURL: url, DBTimeout: time.Second})
		u := c.SignUp(t)
		book := c.StoreBook(t, "Frozen")

		proxy.Freeze()
		answers := apitest.Concurrently(t, 8, func(i int) (*apitest.Response, error) {
			switch i % 3 {
			case 0:
				return c.Post(u.Token, apitest.OpMe, nil)
			case 1:
				return c.Post("", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password))
			}
			return c.Post(u.Token, apitest.OpBooks, nil)
		})
		for _, r := range answers {
			apitest.RequireUnavailable(t, r)
			require.Less(t, r.Took, bound, "answered late")
		}
		// A partial answer is 200: __typename needs no database.
		r := c.Do(t, "", `query($id: ID!) { __typename book(id: $id) { title } }`, apitest.Vars{"id": book.ID})
		apitest.RequireCode(t, r, "SERVICE_UNAVAILABLE")
		require.Equal(t, 200, r.Status, "a partial answer: %s", r.Body)
		require.JSONEq(t, `{"__typename": "Query", "book": null}`, string(r.Data))
		// A persisted query's hash that this instance does not hold is
		// looked up in the database: not PERSISTED_QUERY_NOT_FOUND, which
		// would make the client send its query again and again.
		r = c.DoBody(t, "", apitest.Vars{"extensions": apqExtension(persisted.Hash(`query Frozen { __typename }`))})
		apitest.RequireUnavailable(t, r)
		require.Less(t, r.Took, bound, "answered late")

		proxy.Restore()
		c.Me(t, u.Token)
		c.SignIn(t, u.Email, apitest.Password)
	})

	// The request deadline passes while the request is still being
	// authenticated, before GraphQL runs anything: the answer still says
	// why (it was `null`).
	t.Run("PostgreSQL frozen past the request deadline", func(t *testing.T) {
		t.Parallel()
		url, proxy := apitest.PostgresBehindProxy(t)
		// Long enough for the sign-up on a busy machine, short of bound.
		c := apitest.New(t, apitest.Options{DatabaseURL: url, RequestTimeout: 3 * time.Second, DBTimeout: time.Minute})
		u := c.SignUp(t)

		proxy.Freeze()
		for _, op := range []string{apitest.OpMe, apitest.OpBooks} {
			r := c.Do(t, u.Token, op, nil)
			apitest.RequireUnavailable(t, r)
			require.Less(t, r.Took, bound, "answered late")
		}
		proxy.Restore()
		c.Me(t, u.Token)
	})

	// PostgreSQL down: every connection closed, new ones refused.
	t.Run("PostgreSQL down", func(t *testing.T) {
		t.Parallel()
		url, proxy := apitest.PostgresBehindProxy(t)
		c := apitest.New(t, apitest.Options{DatabaseURL: url})
		u := c.SignUp(t)

		proxy.Cut()
		for _, r := range []*apitest.Response{
			c.Do(t, u.Token, apitest.OpMe, nil),
			c.Do(t, "", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password)),
			c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())}),
		} {
			apitest.RequireUnavailable(t, r)
			require.Less(t, r.Took, bound, "answered late")
		}

		proxy.Restore()
		c.Me(t, u.Token)
		c.SignIn(t, u.Email, apitest.Password)
	})
}

// TestOutageLogs reads the server log during faults: a client that hangs
// up is no server error (debug), a database that does not answer in time
// is a warning naming the request, and neither is an internal error.
func TestOutageLogs(t *testing.T) {
	t.Parallel()

	t.Run("a client that hangs up", func(t *testing.T) {
		t.Parallel()
		logs := &apitest.Log{}
		c := apitest.New(t, apitest.Options{Log: logs, DBTimeout: time.Minute})
		c.LockWrites(t)
		c.HangUp(t, 300*time.Millisecond, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())})
		line := logs.Await(t, "request cancelled")
		require.Contains(t, line, "level=DEBUG")
		require.Contains(t, line, "context canceled")
		require.NotContains(t, logs.String(), "level=ERROR")
	})

	t.Run("a database too slow", func(t *testing.T) {
		t.Parallel()
		logs := &apitest.Log{}
		c := apitest.New(t, apitest.Options{Log: logs, DBTimeout: 300 * time.Millisecond})
		c.LockWrites(t)
		h := apitest.Header("X-Request-ID", "slow-database-1")
		apitest.RequireUnavailable(t, c.DoWithHeader(t, h, apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())}))
		line := logs.Await(t, "request_id=slow-database-1")
		require.Contains(t, line, "level=WARN")
		require.Contains(t, line, `msg="database unavailable"`)
		require.Contains(t, line, "deadline exceeded")
		require.NotContains(t, logs.String(), "level=ERROR")
	})
}

// TestOutageLogIsShort has a request refused every 6 s of the server's
// clock for a minute, while another connection holds the write lock: the
// log says the outage started (with the first request), that it goes on
// every 10 s or so with the count, and that it ended, once a request is
// answered 10 s after the last refusal; reads answered meanwhile do not end
// it. Before, it wrote one line per refused request (3,400 a second while
// PostgreSQL was down).
func TestOutageLogIsShort(t *testing.T) {
	t.Parallel()
	logs := &apitest.Log{}
	c := apitest.New(t, apitest.Options{Log: logs, DBTimeout: time.Second})
	u := c.SignUp(t)
	release := c.LockWrites(t)
	rename := apitest.Vars{"id": u.ID, "in": apitest.Vars{"firstName": "Outage"}}
	for i := range 10 {
		apitest.RequireUnavailable(t, c.Do(t, u.Token, apitest.OpUpdateUser, rename))
		if i == 5 {
			c.Me(t, u.Token) // reads go on
		}
		c.Clock.Advance(6 * time.Second)
	}
	release()
	c.Clock.Advance(4 * time.Second)
	c.Me(t, u.Token)

	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			lines = append(lines, line)
		}
	}
	require.Len(t, lines, 6, "an outage of a minute:\n%s", strings.Join(lines, "\n"))
	require.Contains(t, lines[0], `msg="database unavailable" path=updateUser error=`)
	require.Contains(t, lines[0], "request_id=")
	for i, line := range lines[1:5] {
		require.Contains(t, line, fmt.Sprintf(`msg="database still unavailable" refused=2 for=%ds error=`, 12*(i+1)))
	}
	require.Contains(t, lines[5], `msg="database available again" refused=10 lasted=54s last_error=`)
}
