package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// TestTwoInstancesOneDatabase runs two servers on one database, as behind
// a load balancer: tokens, rotations and sign-outs made on one hold on the
// other at once.
func TestTwoInstancesOneDatabase(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{})
	b := apitest.New(t, apitest.Options{DatabaseURL: a.DBURL})

	p := a.Signup(t, "shared@example.com")
	require.Equal(t, p.User.ID, authMe(t, b, p.AccessToken).ID, "A's access token on B")

	rotated := authMustRefresh(t, b, p.RefreshToken)
	authRequireRefreshRefused(t, a, p.RefreshToken)
	require.Equal(t, p.User.ID, authMe(t, a, rotated.AccessToken).ID, "B's rotated pair on A")

	var out struct{ Signout bool }
	a.Query(t, rotated.AccessToken, `mutation { signout }`, nil).Decode(t, &out)
	require.True(t, out.Signout)
	authRequireRefused(t, b, rotated.AccessToken)
	authRequireRefreshRefused(t, b, rotated.RefreshToken)
}

// TestConcurrentRefreshAcrossInstances sends 50 refreshes of one token at
// once, split over two instances: exactly one may win.
func TestConcurrentRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	servers := []*apitest.Server{apitest.New(t, apitest.Options{})}
	servers = append(servers, apitest.New(t, apitest.Options{DatabaseURL: servers[0].DBURL}))
	p := servers[0].Signup(t, "race2@example.com")

	winner := authRaceRefresh(t, servers, p.RefreshToken, 50)
	for _, s := range servers {
		require.Equal(t, p.User.ID, authMe(t, s, winner.AccessToken).ID, "winner's token")
	}
}

// TestConcurrentSignupsOneEmail signs up one email ten times at once over
// two instances: exactly one account is made, the rest are CONFLICT.
func TestConcurrentSignupsOneEmail(t *testing.T) {
	t.Parallel()
	servers := []*apitest.Server{apitest.New(t, apitest.Options{})}
	servers = append(servers, apitest.New(t, apitest.Options{DatabaseURL: servers[0].DBURL}))
	const signup = `mutation($in: SignupInput!) { signup(input: $in) { accessToken } }`
	in := map[string]any{"firstName": "Twin", "lastName": "Twin", "email": "twin@example.com", "password": apitest.Password}

	const n = 10
	results, errs := apitest.Concurrently(n, func(i int) (*apitest.Response, error) {
		return servers[i%2].Post("", signup, map[string]any{"in": in})
	})

	codes := map[string]int{}
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		r.Check(t)
		code := "ok"
		if len(r.Errors) > 0 {
			code = r.Code()
		}
		codes[code]++
	}
	require.Equal(t, map[string]int{"ok": 1, "CONFLICT": n - 1}, codes)
	users, err := servers[0].Client.User.Query().Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, users)
}
