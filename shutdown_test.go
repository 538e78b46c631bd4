package main

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// signinsInFlight sends n sign-ins with the variables creds returns, each
// on a connection of its own, waits until every one has reached the
// server's handler and the first is answered, and returns the channel that
// receives every answer, and how many have been answered so far. (Waiting
// for the first answer alone let a busy machine signal the server before
// the last sign-ins were read: the listener's close then reset their
// connections, and the test saw EOF.)
func signinsInFlight(t *testing.T, s *server, n int, creds func() apitest.Vars) (<-chan signinResult, *atomic.Int32) {
	t.Helper()
	results := make(chan signinResult, n)
	answered := new(atomic.Int32)
	reached := s.reached.Load() + int32(n)
	for range n {
		c := apitest.Connect(t, s.url)
		go func() {
			r, err := c.Post("", apitest.OpSignIn, creds())
			answered.Add(1)
			results <- signinResult{r, err}
		}()
	}
	require.Eventually(t, func() bool { return s.reached.Load() >= reached }, 30*time.Second, time.Millisecond, "the sign-ins did not all reach the server")
	require.Eventually(t, func() bool { return answered.Load() > 0 }, 30*time.Second, time.Millisecond, "no sign-in answered")
	return results, answered
}

// unknownEmails are sign-in variables of an email no account has: each
// costs a hash and answers UNAUTHENTICATED.
func unknownEmails() apitest.Vars { return apitest.Credentials(apitest.Email(), "not the password") }

type signinResult struct {
	r   *apitest.Response
	err error
}

// TestShutdownDrainsFirst holds 16 sign-ins in flight (one hashing
// worker: they queue), sends SIGTERM, and keeps sending new requests
// during the drain: /readyz turns 503, every new request is served (each
// told to close its connection), every sign-in in flight is answered, and
// only then does the server stop accepting connections. Not one request
// fails. Before, the listener closed at once: requests sent after the
// signal were refused, and a load balancer still routing to the server
// got errors. The drain is long (10 s) so that a busy machine still sends
// every request of the test within it.
func TestShutdownDrainsFirst(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-shutdown-drain", "10s", "-hash-workers", "1", "-auth-rate", "0")
	const inFlight = 16
	held, answered := signinsInFlight(t, s, inFlight, unknownEmails)

	s.signal()
	lb := apitest.Connect(t, s.url) // a load balancer's health check
	require.Eventually(t, func() bool {
		r, err := lb.Send(http.MethodGet, "/readyz", nil, nil)
		return err == nil && r.Status == http.StatusServiceUnavailable && string(r.Body) == "not ready: shutting down\n"
	}, 2*time.Second, time.Millisecond, "/readyz still says ready after the signal")
	require.Less(t, int(answered.Load()), inFlight, "every sign-in was answered before the signal: none was in flight")

	keepAlive := apitest.Connect(t, s.url)
	for i := range 10 {
		c := keepAlive
		if i%2 == 0 {
			c = apitest.Connect(t, s.url) // a new connection
		}
		r := c.Do(t, "", apitest.OpBook, apitest.Vars{"id": "01a21b60-3db2-79fb-b319-137fc7c74866"})
		require.Nil(t, apitest.Data[*apitest.Book](t, r, "book"), "request %d during the drain", i)
		require.True(t, r.Close, "a response during the drain keeps its connection")
	}

	for range inFlight {
		res := <-held
		require.NoError(t, res.err, "a sign-in in flight at the signal failed")
		apitest.RequireCode(t, res.r, "UNAUTHENTICATED")
	}
	require.NoError(t, s.wait())
	_, err := net.Dial("tcp", s.addr)
	require.Error(t, err, "the server still accepts connections after it stopped")
	require.Contains(t, s.log.String(), "msg=stopped")
	require.NotContains(t, s.log.String(), "database is closed")
}

// TestShutdownCancelsLateRequestsBeforeClosingTheDatabase holds sign-ins
// in flight past a SHUTDOWN_TIMEOUT of 1ms: they are cancelled, each still
// gets an answer, and the database is closed only after their handlers
// returned. Before, the database and the hashing pool were closed under
// the running handlers (sql: database is closed; a send on the closed
// pool's channel panicked and reset the connection).
func TestShutdownCancelsLateRequestsBeforeClosingTheDatabase(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-shutdown-drain", "0s", "-shutdown-timeout", "1ms", "-hash-workers", "1", "-auth-rate", "0")
	const inFlight = 16
	held, _ := signinsInFlight(t, s, inFlight, unknownEmails)

	s.signal()
	for range inFlight {
		res := <-held
		require.NoError(t, res.err, "a sign-in in flight at the signal got no answer")
		require.Len(t, res.r.Errors, 1, "%s", res.r.Body)
		// A sign-in cancelled before its password was checked cannot be
		// served: SERVICE_UNAVAILABLE, with retryAfter, never a bug.
		require.Contains(t, []string{"UNAUTHENTICATED", "SERVICE_UNAVAILABLE"}, res.r.Code(), "%s", res.r.Body)
	}
	require.ErrorContains(t, s.wait(), "were cancelled")
	log := s.log.String()
	require.Contains(t, log, "msg=stopped", "the database was not closed")
	require.NotContains(t, log, "database is closed")
	require.NotContains(t, log, "panic")
}

// TestShutdownCancelsSigninsWaitingForAnAttempt holds more right-password
// sign-ins to one account in flight than the lockout has attempts (5):
// those still waiting for an attempt when the shutdown cancels them answer
// SERVICE_UNAVAILABLE like every cancelled request. Before, they answered
// RATE_LIMITED "too many sign-ins for this email at once".
func TestShutdownCancelsSigninsWaitingForAnAttempt(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-shutdown-drain", "0s", "-shutdown-timeout", "1ms", "-hash-workers", "1", "-auth-rate", "0")
	u := apitest.Connect(t, s.url).SignUp(t)
	const inFlight = 16
	held, _ := signinsInFlight(t, s, inFlight, func() apitest.Vars { return apitest.Credentials(u.Email, apitest.Password) })

	s.signal()
	codes := map[string]int{}
	for range inFlight {
		res := <-held
		require.NoError(t, res.err, "a sign-in in flight at the signal got no answer")
		if len(res.r.Errors) == 0 {
			codes["OK"]++
			continue
		}
		codes[res.r.Code()]++
	}
	require.ErrorContains(t, s.wait(), "were cancelled")
	require.Equal(t, inFlight, codes["OK"]+codes["SERVICE_UNAVAILABLE"], "answers by code: %v; log:\n%s", codes, s.log)
	require.Positive(t, codes["SERVICE_UNAVAILABLE"], "no sign-in was cancelled: %v", codes)
	require.NotContains(t, s.log.String(), "level=ERROR")
}
