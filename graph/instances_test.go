package graph_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/app"
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
	require.Equal(t, map[string]int{"": 1, "CONFLICT": n - 1}, apitest.CountCodes(answers))
	require.Equal(t, 1, servers[0].DB.User.Query().CountX(t.Context()))
}

// TestRevocationUnderLoadAcrossInstances runs two instances on one database
// while other clients keep both busy (so that pooled connections and
// cached statements are in use), and checks round after round that a
// sign-out on A refuses the token on B at once, and a demotion on A
// forbids on B at once: not a single request after the answer may pass.
func TestRevocationUnderLoadAcrossInstances(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)
	admin := a.NewUser(t, apitest.Admin)
	u := a.SignUp(t)

	// Background load on both instances until the rounds are over.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 4 {
		s := []*apitest.Client{a, b}[i%2]
		token := a.SignUp(t).Token
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = s.Post(token, `{ me { id } books(first: 10) { edges { node { id } } } }`, nil)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	const rounds = 10
	passed := 0
	for range rounds {
		p := a.SignIn(t, u.Email, apitest.Password)
		require.Equal(t, u.ID, b.Me(t, p.Token).ID, "fresh token on B")
		require.True(t, apitest.Data[bool](t, a.Do(t, p.Token, apitest.OpSignOut, nil), "signout"))
		if r := b.Do(t, p.Token, apitest.OpMe, nil); r.Code() != "UNAUTHENTICATED" {
			passed++
		}
	}
	require.Zero(t, passed, "requests on B that passed right after sign-out on A")

	p := a.SignIn(t, u.Email, apitest.Password)
	setLevel := func(level int) {
		t.Helper()
		apitest.Data[apitest.User](t, a.Do(t, admin.Token, apitest.OpUpdateUser,
			apitest.Vars{"id": u.ID, "in": apitest.Vars{"permissionLevel": level}}), "updateUser")
	}
	for range rounds {
		setLevel(apitest.Free)
		apitest.Data[apitest.Connection[apitest.Book]](t, b.Do(t, p.Token, apitest.OpBooks, apitest.Vars{"first": 1}), "books")
		setLevel(0)
		if r := b.Do(t, p.Token, apitest.OpBooks, apitest.Vars{"first": 1}); r.Code() != "FORBIDDEN" {
			passed++
		}
	}
	require.Zero(t, passed, "requests on B that passed right after demotion on A")
}

// TestConcurrentSigninsKeepTheSessionCap signs one user in many times at
// once over two instances: every sign-in succeeds, and the user is left
// with exactly the cap of live sessions, not one more (two sign-ins that
// counted the sessions at the same time would each have made room for
// their own).
func TestConcurrentSigninsKeepTheSessionCap(t *testing.T) {
	t.Parallel()
	const maxSessions = 3
	servers := []*apitest.Client{apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Accounts.MaxSessions = maxSessions }})}
	servers = append(servers, servers[0].NewInstance(t))
	u := servers[0].SignUp(t)
	servers[0].Clock.Advance(time.Minute) // the sign-up's session is the least recently used

	const n = 12
	answers := apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		return servers[i%2].Post("", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password))
	})
	live := 0
	for _, r := range answers {
		s := apitest.Data[apitest.AuthPayload](t, r, "signin")
		if servers[0].Do(t, s.Token, apitest.OpMe, nil).Code() == "" {
			live++
		}
	}
	require.Equal(t, maxSessions, live, "sessions that still work")
}
