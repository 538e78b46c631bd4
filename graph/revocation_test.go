package graph_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/account"
	"bitgate/internal/apitest"
)

// TestRevocationUnderLoadAcrossInstances runs two instances on one database
// while other clients keep both busy (so that pooled connections and
// cached statements are in use), and checks round after round that a
// sign-out on A refuses the token on B at once, and a demotion on A
// forbids on B at once: not a single request after the answer may pass.
func TestRevocationUnderLoadAcrossInstances(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{})
	b := apitest.New(t, apitest.Options{DatabaseURL: a.DBURL})
	admin := a.User(t, "revoke-admin@example.com", account.PermAdmin)
	u := a.Signup(t, "revoke-user@example.com")

	// Background load on both instances until the rounds are over.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 4 {
		s, p := a, a.Signup(t, fmt.Sprintf("revoke-load%d@example.com", i))
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = s.Post(p.AccessToken, `{ me { id } books(first: 10) { edges { node { id } } } }`, nil)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	const rounds = 10
	passed := 0
	for range rounds {
		p := a.Signin(t, u.User.Email, apitest.Password)
		require.Empty(t, b.Query(t, p.AccessToken, `{ me { id } }`, nil).Errors, "fresh token on B")
		require.Empty(t, a.Query(t, p.AccessToken, `mutation { signout }`, nil).Errors)
		if r := b.Query(t, p.AccessToken, `{ me { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
			passed++
		}
	}
	require.Zero(t, passed, "requests on B that passed right after sign-out on A")

	p := a.Signin(t, u.User.Email, apitest.Password)
	setLevel := `mutation($id: ID!, $l: Int!) { updateUser(id: $id, input: {permissionLevel: $l}) { id } }`
	for range rounds {
		require.Empty(t, a.Query(t, admin.AccessToken, setLevel, map[string]any{"id": u.User.ID, "l": account.PermFree}).Errors)
		require.Empty(t, b.Query(t, p.AccessToken, `{ books(first: 1) { edges { node { id } } } }`, nil).Errors, "FREE on B")
		require.Empty(t, a.Query(t, admin.AccessToken, setLevel, map[string]any{"id": u.User.ID, "l": 0}).Errors)
		if r := b.Query(t, p.AccessToken, `{ books(first: 1) { edges { node { id } } } }`, nil); r.Code() != "FORBIDDEN" {
			passed++
		}
	}
	require.Zero(t, passed, "requests on B that passed right after demotion on A")
}
