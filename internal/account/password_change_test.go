package account_test

import (
	"context"
	"database/sql"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// pause holds the sign-ins of one email at one of their pause points (see
// account.SetSigninPause): each says so on arrived, then waits for release.
type pause struct {
	email, at string
	arrived   chan struct{}
	release   chan struct{}
	once      sync.Once
}

// newPause returns a pause of the sign-ins of email at the point at,
// released at the latest when the test ends.
func newPause(t *testing.T, email, at string) *pause {
	t.Helper()
	p := &pause{email: email, at: at, arrived: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(p.Release) // never leave a server goroutine waiting
	return p
}

// Release lets the held sign-ins go on.
func (p *pause) Release() { p.once.Do(func() { close(p.release) }) }

// await waits until n sign-ins have arrived, for a minute at most.
func (p *pause) await(n int) bool {
	for range n {
		select {
		case <-p.arrived:
		case <-time.After(time.Minute):
			return false
		}
	}
	return true
}

// TestNewPasswordRefusesRacingSignins commits a new password (the user's
// own change, an ADMIN's reset, create-admin) while sign-ins with the old
// password are under way, at the two points where a sign-in that verified
// the old hash could still store a session: none may keep one. The pauses
// stand in for a slow hash and an unlucky schedule; the requests are real.
func TestNewPasswordRefusesRacingSignins(t *testing.T) {
	// Not parallel: it replaces the sign-in pause of the whole package.
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	const newPassword = "a brand new password"
	var current atomic.Pointer[pause]
	account.SetSigninPause(t, func(_ context.Context, u *ent.User, at string) {
		if p := current.Load(); p != nil && p.email == u.Email && p.at == at {
			p.arrived <- struct{}{}
			<-p.release
		}
	})
	ownChange := func(v apitest.AuthPayload) (*apitest.Response, error) {
		return c.Post(v.Token, apitest.OpUpdateUser, apitest.Vars{"id": v.ID, "in": apitest.Vars{
			"password": newPassword, "currentPassword": apitest.Password,
		}})
	}

	// Sign-ins that verified the old hash, then a change commits, then they
	// store their session. Each kind of change gets a victim of its own, so
	// that the refused sign-ins do not add up to a lockout.
	for _, tc := range []struct {
		name   string
		change func(victim apitest.AuthPayload) (*apitest.Response, error)
	}{
		{"own password change", ownChange},
		{"ADMIN's reset", func(v apitest.AuthPayload) (*apitest.Response, error) {
			return c.Post(admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": v.ID, "in": apitest.Vars{"password": newPassword}})
		}},
		{"create-admin", func(v apitest.AuthPayload) (*apitest.Response, error) {
			// What the command runs; it answers no HTTP request.
			_, _, err := c.Accounts.EnsureAdmin(context.Background(), account.CreateUserInput{
				FirstName: "Ops", LastName: "Admin", Email: v.Email, Password: newPassword,
			}, true)
			return &apitest.Response{Status: http.StatusOK}, err
		}},
	} {
		t.Run(tc.name+" commits between a sign-in's hash and its session", func(t *testing.T) {
			v := c.SignUp(t)
			p := newPause(t, v.Email, "verified")
			current.Store(p)
			const signins = 3
			var verified bool
			answers := apitest.Concurrently(t, signins+1, func(i int) (*apitest.Response, error) {
				if i < signins {
					return c.Post("", apitest.OpSignIn, apitest.Credentials(v.Email, apitest.Password))
				}
				defer p.Release()
				if verified = p.await(signins); !verified {
					return &apitest.Response{}, nil // reported below
				}
				return tc.change(v)
			})
			require.True(t, verified, "the sign-ins never verified the old password")
			require.Empty(t, answers[signins].Errors, "the change: %s", answers[signins].Body)
			for i, r := range answers[:signins] {
				if r.Code() == "" {
					s := apitest.Data[apitest.AuthPayload](t, r, "signin")
					require.Failf(t, "a sign-in with the old password got a session after the change",
						"sign-in %d: me answers %s", i, c.Do(t, s.Token, apitest.OpMe, nil).Body)
				}
				apitest.RequireCode(t, r, "UNAUTHENTICATED")
			}
			current.Store(nil)
			c.SignIn(t, v.Email, newPassword)
			apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(v.Email, apitest.Password)), "UNAUTHENTICATED")
		})
	}

	// A sign-in found the old version current and is storing its session
	// when the change starts: the change must wait for it (on PostgreSQL,
	// the user row is locked FOR SHARE; SQLite runs one write transaction
	// at a time), and then end that session with the others.
	t.Run("a change waits for a sign-in storing its session, then ends it", func(t *testing.T) {
		v := c.SignUp(t)
		p := newPause(t, v.Email, "checked")
		current.Store(p)
		type answer struct {
			r   *apitest.Response
			err error
		}
		signin, change := make(chan answer, 1), make(chan answer, 1)
		go func() {
			r, err := c.Post("", apitest.OpSignIn, apitest.Credentials(v.Email, apitest.Password))
			signin <- answer{r, err}
		}()
		require.True(t, p.await(1), "the sign-in never checked the credential version")
		go func() {
			r, err := ownChange(v)
			change <- answer{r, err}
		}()
		if database.IsPostgres(c.DatabaseURL) {
			require.True(t, waitsForLock(t, c.DatabaseURL, change), "the change committed while a sign-in was storing its session")
		}
		p.Release()
		changed, signed := <-change, <-signin
		require.NoError(t, changed.err)
		require.Empty(t, changed.r.Errors, "the change: %s", changed.r.Body)
		require.NoError(t, signed.err)
		c.RequireEnded(t, apitest.Data[apitest.AuthPayload](t, signed.r, "signin"))
		current.Store(nil)
	})
}

// waitsForLock reports whether a connection to the PostgreSQL database at
// url comes to wait for a lock before answered delivers.
func waitsForLock[T any](t *testing.T, url string, answered chan T) bool {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		var waiting int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		if waiting > 0 {
			return true
		}
		select {
		case a := <-answered:
			answered <- a // put it back for the caller
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// TestNewPasswordEndsRacingRefreshes refreshes every other session of a
// user while the user sets a new password: whichever commits first, no
// pair from those sessions works once the change has answered, and the
// session that made the change does. (A refresh and the revocation update
// the same session row, so they cannot interleave.)
func TestNewPasswordEndsRacingRefreshes(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	v := c.SignUp(t)
	const others = 8
	sessions := make([]apitest.AuthPayload, others)
	for i := range sessions {
		sessions[i] = c.SignIn(t, v.Email, apitest.Password)
	}
	answers := apitest.Concurrently(t, others+1, func(i int) (*apitest.Response, error) {
		if i < others {
			return c.Post("", apitest.OpRefresh, apitest.Vars{"refreshToken": sessions[i].RefreshToken})
		}
		return c.Post(v.Token, apitest.OpUpdateUser, apitest.Vars{"id": v.ID, "in": apitest.Vars{
			"password": "a brand new password", "currentPassword": apitest.Password,
		}})
	})
	require.Empty(t, answers[others].Errors, "the change: %s", answers[others].Body)
	for i, r := range answers[:others] {
		c.RequireEnded(t, sessions[i])
		if r.Code() == "" {
			c.RequireEnded(t, apitest.Data[apitest.AuthPayload](t, r, "refresh"))
		} else {
			apitest.RequireCode(t, r, "UNAUTHENTICATED")
		}
	}
	c.Me(t, v.Token)
}
