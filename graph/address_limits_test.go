package graph_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/ent/session"
	"bitgate/internal/apitest"
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
