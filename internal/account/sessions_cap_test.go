package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/app"
	"bitgate/internal/database"
)

// TestSessionCapHoldsAgainstRacingSignins starts a sign-in of a user at
// the cap of live sessions while another sign-in of that user has stored
// its session and ended the oldest one, but not committed yet: the second
// must count the first's session (on PostgreSQL it waits for the first's
// lock on the user row; SQLite runs one write transaction at a time), so
// that the user keeps exactly the cap, not one more. The pause stands in
// for an unlucky schedule; the requests are real.
func TestSessionCapHoldsAgainstRacingSignins(t *testing.T) {
	// Not parallel: it replaces the sign-in pause of the whole package.
	const maxSessions = 2
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Accounts.MaxSessions = maxSessions }})
	u := c.SignUp(t)
	c.Clock.Advance(time.Minute)
	sessions := []apitest.AuthPayload{u, c.SignIn(t, u.Email, apitest.Password)}
	c.Clock.Advance(time.Minute)

	p := newPause(t, u.Email, "stored")
	account.SetSigninPause(t, func(_ context.Context, v *ent.User, at string) {
		if v.Email == p.email && at == p.at {
			p.arrived <- struct{}{}
			<-p.release
		}
	})
	type answer struct {
		r   *apitest.Response
		err error
	}
	first, second := make(chan answer, 1), make(chan answer, 1)
	signin := func(answered chan answer) {
		r, err := c.Post("", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password))
		answered <- answer{r, err}
	}
	go signin(first)
	require.True(t, p.await(1), "the first sign-in never stored its session")
	go signin(second)
	if database.IsPostgres(c.DatabaseURL) {
		require.True(t, waitsForLock(t, c.DatabaseURL, second), "the second sign-in did not wait for the first")
	}
	p.Release()
	for _, answered := range []chan answer{first, second} {
		a := <-answered
		require.NoError(t, a.err)
		sessions = append(sessions, apitest.Data[apitest.AuthPayload](t, a.r, "signin"))
	}
	live := 0
	for _, s := range sessions {
		if c.Do(t, s.Token, apitest.OpMe, nil).Code() == "" {
			live++
		}
	}
	require.Equal(t, maxSessions, live, "sessions that still work")
}
