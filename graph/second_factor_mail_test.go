package graph_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/passkey/passkeytest"
)

// Second factors and mail, against a real SMTP server: each factor added
// or removed mails the user a notice, queued in the transaction of the
// change (a refused change queues none), and a password reset of a user
// with a second factor starts a session that waits for it.

// TestSecondFactorNotices adds and removes each kind of factor, and has an
// ADMIN remove them all: each change mails the user one notice, saying
// what changed; passkeys default to PUBLIC_URL's origin.
func TestSecondFactorNotices(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	notice := func(kind string, want ...string) {
		t.Helper()
		text := c.NextMail(t, u.Email, kind).Text(t)
		for _, w := range want {
			require.Contains(t, text, w)
		}
	}
	outbox := func() int {
		t.Helper()
		return c.DB.OutboxMail.Query().CountX(context.Background())
	}

	tp := c.EnableTOTP(t, u)
	notice("second-factor-added", "TOTP was added")
	auth := passkeytest.New(apitest.PublicURL) // the relying party is PUBLIC_URL's
	k := c.RegisterPasskey(t, u, auth)
	notice("second-factor-added", "passkey was added")

	queued := outbox()
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": "000000"}), "BAD_USER_INPUT", "code")
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpRemovePasskey, apitest.Vars{"id": k.ID, "currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
	require.Equal(t, queued, outbox(), "a refused change queued a notice")

	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRemovePasskey, apitest.Vars{"id": k.ID, "currentPassword": apitest.Password}), "removePasskey"))
	notice("second-factor-removed", "passkey was removed")
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpDisableTotp,
		apitest.Vars{"currentPassword": apitest.Password, "code": c.NextTOTPCode(t, tp.Secret)}), "disableTotp"))
	notice("second-factor-removed", "TOTP was removed")

	c.EnableTOTP(t, u)
	notice("second-factor-added", "TOTP was added")
	c.RegisterPasskey(t, u, auth)
	notice("second-factor-added", "passkey was added")
	admin := c.NewUser(t, apitest.Admin)
	apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": u.ID}), "removeSecondFactors")
	notice("second-factor-removed", "an administrator removed the second factors", "TOTP, 10 recovery codes and 1 passkey")

	// Nothing left to remove: no event to tell.
	queued = outbox()
	apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": u.ID}), "removeSecondFactors")
	require.Equal(t, queued, outbox(), "a notice of nothing removed")
}

// TestPasswordResetWithASecondFactor: the mailed link proves the email,
// not the second factor, so the session resetPassword starts for a user
// with one waits for it, as a sign-in does; without one it does not.
func TestPasswordResetWithASecondFactor(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	reset := func(u apitest.AuthPayload) apitest.AuthPayload {
		t.Helper()
		c.RequestPasswordReset(t, u.Email)
		s := c.ResetPassword(t, c.MailedToken(t, u.Email, "reset-password"), apitest.NewPassword)
		c.NextMail(t, u.Email, "password-changed")
		return s
	}

	u, _ := c.SignUpMailed(t)
	tp := c.EnableTOTP(t, u)
	c.NextMail(t, u.Email, "second-factor-added")
	s := reset(u)
	require.True(t, s.MFARequired, "a reset skipped the second factor")
	require.True(t, s.EmailVerified, "the link reached the address")
	apitest.RequireMFARequired(t, c.Do(t, s.Token, apitest.OpBooks, nil))
	apitest.RequireMFARequired(t, c.Do(t, s.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.NewPassword}))
	require.Equal(t, u.ID, c.Me(t, s.Token).ID)
	s = c.VerifySecondFactor(t, s.Token, c.NextTOTPCode(t, tp.Secret))
	apitest.Data[apitest.Connection[apitest.Book]](t, c.Do(t, s.Token, apitest.OpBooks, nil), "books")

	t.Run("a passkey alone is a second factor too", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		c.RegisterPasskey(t, u, passkeytest.New(apitest.PublicURL))
		c.NextMail(t, u.Email, "second-factor-added")
		require.True(t, reset(u).MFARequired)
	})

	t.Run("without a second factor", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		require.False(t, reset(u).MFARequired)
	})
}

// TestWrongCodeNotices: wrong second-factor codes come from someone who
// has the password, so the user is mailed when they end a session or
// lock the email (a notice of the wrong-codes kind), and not for each.
func TestWrongCodeNotices(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	wrong := apitest.Vars{"code": "000000"}
	enabled := func() (apitest.AuthPayload, string) {
		t.Helper()
		u, _ := c.SignUpMailed(t)
		secret := c.EnableTOTP(t, u).Secret
		c.NextMail(t, u.Email, "second-factor-added")
		return u, secret
	}

	t.Run("a session ended", func(t *testing.T) {
		u, secret := enabled()
		thief := c.SignIn(t, u.Email, apitest.Password)
		for range 3 {
			apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, wrong), "BAD_USER_INPUT", "code")
		}
		c.SignInWithTOTP(t, u.Email, secret) // resets the email's count, not the session's
		apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, wrong), "BAD_USER_INPUT", "code")
		apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, wrong), "UNAUTHENTICATED")
		text := c.NextMail(t, u.Email, "wrong-codes").Text(t)
		require.Contains(t, text, "wrong second-factor codes")
		require.Contains(t, text, "That sign-in was ended")
		require.NotContains(t, text, "locked")
	})

	t.Run("the email locked", func(t *testing.T) {
		u, _ := enabled()
		for range 5 { // a session each: none ends
			s := c.SignIn(t, u.Email, apitest.Password)
			apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpVerifySecondFactor, wrong), "BAD_USER_INPUT", "code")
		}
		text := c.NextMail(t, u.Email, "wrong-codes").Text(t)
		require.Contains(t, text, "locked for 15 minutes")
		require.NotContains(t, text, "ended")
	})
}
