package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// TestTwoInstancesOneDatabase runs two servers on one database, as behind
// a load balancer: tokens, rotations and sign-outs made on one hold on the
// other at once. (Concurrent refreshes over two instances are in
// TestRefreshConcurrent.)
func TestTwoInstancesOneDatabase(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)

	u := a.SignUp(t)
	require.Equal(t, u.ID, b.Me(t, u.Token).ID, "A's access token on B")

	rotated := b.Refresh(t, u.RefreshToken)
	a.RequireRefreshRefused(t, u.RefreshToken)
	require.Equal(t, u.ID, a.Me(t, rotated.Token).ID, "B's rotated pair on A")

	require.True(t, apitest.Data[bool](t, a.Do(t, rotated.Token, apitest.OpSignOut, nil), "signout"))
	b.RequireEnded(t, rotated)
}

// TestConcurrentSignupsOneEmail signs up one email ten times at once over
// two instances: exactly one account is made, the rest are CONFLICT.
func TestConcurrentSignupsOneEmail(t *testing.T) {
	t.Parallel()
	servers := []*apitest.Client{apitest.New(t)}
	servers = append(servers, servers[0].NewInstance(t))
	in := apitest.SignUpInput(apitest.Email())

	const n = 10
	answers := apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		return servers[i%2].Post("", apitest.OpSignUp, apitest.Vars{"in": in})
	})
	codes := map[string]int{}
	for _, r := range answers {
		code := "ok"
		if len(r.Errors) > 0 {
			code = r.Code()
		}
		codes[code]++
	}
	require.Equal(t, map[string]int{"ok": 1, "CONFLICT": n - 1}, codes)
	require.Equal(t, 1, servers[0].DB.User.Query().CountX(t.Context()))
}
