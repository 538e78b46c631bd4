package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent/session"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// signinVia signs in to email with a wrong password through a trusted
// proxy that forwards for the hops in xff.
func signinVia(t *testing.T, c *apitest.Client, xff, email string) *apitest.Response {
	t.Helper()
	return c.DoWithHeader(t, apitest.Header("X-Forwarded-For", xff), apitest.OpSignIn, apitest.Credentials(email, "not the password"))
}

// TestAddressLimitKeys: the per-address limit counts an IPv6 client by its
// /64 and an IPv4 client by its address, and reads hops that carry a port
// or brackets. Before, each IPv6 address had a bucket of its own (a /64
// was unlimited), and a hop such as 198.51.100.1:4711 was taken as
// malformed, so every client fell back to the proxy's own bucket.
func TestAddressLimitKeys(t *testing.T) {
	t.Parallel()
	const burst = 3
	newServer := func(t *testing.T) *apitest.Client {
		return apitest.New(t, apitest.Options{
			AuthRate: 0.001, AuthBurst: burst,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		})
	}
	for _, tc := range []struct {
		name  string
		same  []string // hops of one client: its bucket empties after burst calls
		other string   // a hop of another client, whose bucket is full
	}{
		{"IPv6 addresses of one /64", []string{"2001:db8:1:2::1", "[2001:db8:1:2::2]:443", "2001:db8:1:2:ffff:ffff:ffff:ffff", "[2001:db8:1:2::3]"}, "2001:db8:1:3::1"},
		{"IPv4 with ports", []string{"198.51.100.1:4711", "198.51.100.1:4712", "198.51.100.1", "198.51.100.1:1"}, "198.51.100.2:4711"},
		{"IPv6 in brackets", []string{"[2001:db8:9::1]", "[2001:db8:9::1]:443", "2001:db8:9::1", "[2001:db8:9::1]:80"}, "[2001:db8:a::1]:443"},
		{"IPv4 neighbours are not grouped", []string{"203.0.113.7", "203.0.113.7:80", "203.0.113.7", "203.0.113.7:81"}, "203.0.113.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			for i, hop := range tc.same[:burst] {
				r := signinVia(t, s, "192.0.2.99, "+hop, "nobody@example.com")
				require.Equal(t, "UNAUTHENTICATED", r.Code(), "call %d from %s: %s", i+1, hop, r.Body)
			}
			r := signinVia(t, s, tc.same[burst], "nobody@example.com")
			require.Equal(t, "RATE_LIMITED", r.Code(), "%s has a bucket of its own: %s", tc.same[burst], r.Body)
			r = signinVia(t, s, tc.other, "nobody@example.com")
			require.Equal(t, "UNAUTHENTICATED", r.Code(), "%s shares a bucket with %s: %s", tc.other, tc.same[0], r.Body)
		})
	}
}

// TestSessionKeepsFullClientAddress: only the limit groups IPv6 addresses;
// a session records the client's whole address, without the port.
func TestSessionKeepsFullClientAddress(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	u := s.SignUp(t)
	r := s.DoWithHeader(t, apitest.Header("X-Forwarded-For", "[2001:db8:1:2:a:b:c:d]:443"), apitest.OpSignIn, apitest.Credentials(u.User.Email, apitest.Password))
	require.Empty(t, r.Errors, "%s", r.Body)
	ips, err := s.DB.Session.Query().Select(session.FieldClientIP).Strings(context.Background())
	require.NoError(t, err)
	require.Contains(t, ips, "2001:db8:1:2:a:b:c:d", "session client addresses")
}

// TestAddressLimitsAcrossInstances sends 20 sign-ins from one address at
// once, alternately to two instances on one database, with AUTH_BURST=10.
// On PostgreSQL the instances share the buckets in the database: exactly
// 10 pass, and the next is refused whichever instance gets it. Before,
// each instance had buckets of its own and all 20 passed. On SQLite, whose
// file has one instance, each process keeps its own.
func TestAddressLimitsAcrossInstances(t *testing.T) {
	t.Parallel()
	const burst, calls = 10, 20
	a := apitest.New(t, apitest.Options{AuthRate: 0.001, AuthBurst: burst})
	servers := []*apitest.Client{a, a.NewInstance(t)}

	answers := apitest.Concurrently(t, calls, func(i int) (*apitest.Response, error) {
		return servers[i%2].Post("", apitest.OpSignIn, apitest.Credentials(apitest.Email(), "not the password"))
	})
	codes := apitest.CountCodes(answers)
	if !database.IsPostgres(a.DatabaseURL) {
		require.Equal(t, map[string]int{"UNAUTHENTICATED": calls}, codes, "per process on SQLite")
		return
	}
	require.Equal(t, map[string]int{"UNAUTHENTICATED": burst, "RATE_LIMITED": calls - burst}, codes)
	for _, s := range servers {
		e := apitest.RequireCode(t, s.Do(t, "", apitest.OpSignIn, apitest.Credentials(apitest.Email(), "not the password")), "RATE_LIMITED")
		require.Greater(t, e.Extensions["retryAfter"], float64(900), "a token comes back every 1000 s")
	}
}

// TestAddressLimits: signin, signup and refresh each have a bucket per
// client address, named by X-Forwarded-For only when a trusted proxy sends
// it, and refilled with time.
func TestAddressLimits(t *testing.T) {
	t.Parallel()
	limited := apitest.Options{AuthRate: 0.001, AuthBurst: 3}
	xff := func(v string) http.Header { return apitest.Header("X-Forwarded-For", v) }
	signInFrom := func(t *testing.T, c *apitest.Client, h http.Header) *apitest.Response {
		t.Helper()
		return c.DoWithHeader(t, h, apitest.OpSignIn, apitest.Credentials(apitest.Email(), apitest.WrongPassword))
	}
	// pass requires a call that the limiter let through.
	pass := func(t *testing.T, r *apitest.Response) {
		t.Helper()
		require.NotEqual(t, "RATE_LIMITED", r.Code(), "limited too early: %s", r.Body)
	}

	t.Run("signin", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, limited)
		for range 3 {
			apitest.RequireCode(t, signInFrom(t, c, nil), "UNAUTHENTICATED")
		}
		apitest.RequireCode(t, signInFrom(t, c, nil), "RATE_LIMITED")
		// Each operation has its own bucket.
		c.SignUp(t)
	})

	t.Run("X-Forwarded-For of a trusted proxy names the client", func(t *testing.T) {
		t.Parallel()
		opts := limited
		opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c := apitest.New(t, opts)
		for range 3 {
			pass(t, signInFrom(t, c, xff("203.0.113.1")))
		}
		apitest.RequireCode(t, signInFrom(t, c, xff("203.0.113.1")), "RATE_LIMITED")
		// A forged hop to the left does not make a new client.
		apitest.RequireCode(t, signInFrom(t, c, xff("198.51.100.7, 203.0.113.1")), "RATE_LIMITED")
		// Other forwarded addresses have their own buckets.
		for i := range 5 {
			pass(t, signInFrom(t, c, xff(fmt.Sprintf("203.0.113.%d", 10+i))))
		}
	})

	t.Run("X-Forwarded-For of anyone else is ignored", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, limited)
		for i := range 3 {
			pass(t, signInFrom(t, c, xff(fmt.Sprintf("203.0.113.%d", i))))
		}
		apitest.RequireCode(t, signInFrom(t, c, xff("203.0.113.99")), "RATE_LIMITED")
		apitest.RequireCode(t, signInFrom(t, c, nil), "RATE_LIMITED")
	})

	t.Run("signup", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, limited)
		signup := func() *apitest.Response {
			in := apitest.SignUpInput(apitest.Email())
			in["password"] = "short"
			return c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": in})
		}
		for range 3 {
			apitest.RequireCode(t, signup(), "BAD_USER_INPUT")
		}
		apitest.RequireCode(t, signup(), "RATE_LIMITED")
	})

	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t, limited)
		for range 3 {
			c.RequireRefreshRefused(t, "not-a-refresh-token-"+uuid.NewString())
		}
		apitest.RequireCode(t, c.Do(t, "", apitest.OpRefresh, apitest.Vars{"refreshToken": uuid.NewString()}), "RATE_LIMITED")
	})

	t.Run("buckets refill with time", func(t *testing.T) {
		t.Parallel()
		opts := limited
		opts.AuthRate = 1
		c := apitest.New(t, opts)
		for range 3 {
			pass(t, signInFrom(t, c, nil))
		}
		e := apitest.RequireCode(t, signInFrom(t, c, nil), "RATE_LIMITED")
		require.Equal(t, float64(1), e.Extensions["retryAfter"])
		c.Clock.Advance(time.Second)
		pass(t, signInFrom(t, c, nil))
	})
}
