package graph_test

import (
	"encoding/json"
	"sync"
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

	const n = 50
	results := make([]authRaw, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = authPost(servers[i%2], authRefreshMut, map[string]any{"t": p.RefreshToken})
		})
	}
	close(start)
	wg.Wait()

	var winner *apitest.Payload
	for i, res := range results {
		require.NoError(t, res.err, "request %d", i)
		require.Less(t, res.status, 500, "request %d: %s", i, res.body)
		var r struct {
			Data   struct{ Refresh *apitest.Payload }
			Errors []apitest.Error
		}
		require.NoError(t, json.Unmarshal(res.body, &r), "request %d: %s", i, res.body)
		if len(r.Errors) == 0 {
			require.Nil(t, winner, "a second winner: request %d", i)
			winner = r.Data.Refresh
			continue
		}
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Extensions["code"], "request %d: %s", i, res.body)
	}
	require.NotNil(t, winner, "no refresh won")
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
	results := make([]authRaw, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = authPost(servers[i%2], signup, map[string]any{"in": in})
		})
	}
	close(start)
	wg.Wait()

	codes := map[string]int{}
	for i, res := range results {
		require.NoError(t, res.err, "request %d", i)
		var r struct{ Errors []apitest.Error }
		require.NoError(t, json.Unmarshal(res.body, &r), "request %d: %s", i, res.body)
		code := "ok"
		if len(r.Errors) > 0 {
			code, _ = r.Errors[0].Extensions["code"].(string)
		}
		codes[code]++
	}
	require.Equal(t, map[string]int{"ok": 1, "CONFLICT": n - 1}, codes)
	users, err := servers[0].Client.User.Query().Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, users)
}
