package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent/auditevent"
	"bitgate/ent/lockout"
	"bitgate/ent/outboxmail"
	"bitgate/internal/apitest"
	"bitgate/internal/app"
)

// TestPasswordReset walks the forgotten password: a user with two
// sessions, locked out of sign-in, asks for a reset (in another case),
// opens the mailed link and sets a new password: every old session ends,
// the lockout is cleared, the email is verified, a new session starts,
// and a notice goes to the address.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	ctx := context.Background()
	u, _ := c.SignUpMailed(t)
	other := c.SignIn(t, u.Email, apitest.Password)
	c.FailSignIn(t, u.Email, 5)
	c.RequireLocked(t, u.Email, apitest.Password)
	require.False(t, c.Me(t, u.Token).EmailVerified)

	c.RequestPasswordReset(t, strings.ToUpper(u.Email))
	m := c.NextMail(t, u.Email, "reset-password")
	require.Contains(t, m.Parts(t), "text/html", "the mail has no HTML part")
	token := apitest.LinkToken(t, m, apitest.ResetPasswordPath)

	s := c.ResetPassword(t, token, apitest.NewPassword)
	require.Equal(t, u.ID, s.ID)
	require.True(t, s.EmailVerified, "a reset (the link reached the address) verifies the email")
	require.True(t, c.Me(t, s.Token).EmailVerified)
	c.RequireEnded(t, u)
	c.RequireEnded(t, other)
	notice := c.NextMail(t, u.Email, "password-changed")
	require.NotContains(t, notice.Text(t), "an administrator set", "a reset is the user's own change")

	// The lock is gone, and only the new password signs in.
	c.SignIn(t, u.Email, apitest.NewPassword)
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password)), "UNAUTHENTICATED")
	require.Zero(t, c.DB.Lockout.Query().Where(lockout.LockedUntilNotNil()).CountX(ctx), "the lockout outlived the reset")

	msg := c.RequireTokenRefused(t, apitest.OpResetPassword, token)
	require.NotContains(t, msg, token)
	for _, action := range []string{"password.reset_requested", "password.reset"} {
		n := c.DB.AuditEvent.Query().Where(auditevent.Action(action), auditevent.UserID(uuid.MustParse(u.ID))).CountX(ctx)
		require.Equal(t, 1, n, "%s events", action)
	}
}

// TestPasswordResetForAnUnknownEmail answers exactly as for a known one,
// and mails nothing; a malformed email is BAD_USER_INPUT for all alike.
func TestPasswordResetForAnUnknownEmail(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	ctx := context.Background()
	u, _ := c.SignUpMailed(t)
	unknown := apitest.Email()

	unknownAnswer := c.RequestPasswordReset(t, unknown)
	require.Zero(t, c.DB.OutboxMail.Query().Where(outboxmail.Recipient(unknown)).CountX(ctx), "a mail to an address without an account")
	n := c.DB.AuditEvent.Query().Where(auditevent.Action("password.reset_requested"), auditevent.UserIDIsNil()).CountX(ctx)
	require.Equal(t, 1, n, "the request for an unknown email is not audited")

	knownAnswer := c.RequestPasswordReset(t, u.Email)
	require.Equal(t, string(knownAnswer.Body), string(unknownAnswer.Body))
	require.Equal(t, knownAnswer.Status, unknownAnswer.Status)
	// The next mail the server sends is the known account's: nothing went
	// to the unknown address before it.
	c.NextMail(t, u.Email, "reset-password")
	require.Len(t, c.Mail.Received(), 2, "mails: the sign-up's and the reset's")

	apitest.RequireCode(t, c.Do(t, "", apitest.OpRequestPasswordReset, apitest.Vars{"email": "not an email"}), "BAD_USER_INPUT", "email")
}

// TestResetTokenRefusals: a reset token works once, for an hour, while it
// is its user's newest, and while neither the password nor the email
// changed since it was mailed; every refusal has one message, and spends
// no hashing.
func TestResetTokenRefusals(t *testing.T) {
	t.Parallel()
	var (
		c        *apitest.Client
		messages []string
	)
	refuse := func(t *testing.T, op, token string) {
		t.Helper()
		messages = append(messages, c.RequireTokenRefused(t, op, token))
	}
	reset := func(t *testing.T, email string) string {
		t.Helper()
		c.Clock.Advance(2 * time.Minute) // past MAIL_INTERVAL
		c.RequestPasswordReset(t, email)
		return c.MailedToken(t, email, "reset-password")
	}
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			c = apitest.New(t, apitest.Options{Mail: true})
			f(t)
		})
	}

	run("used twice", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		token := reset(t, u.Email)
		c.ResetPassword(t, token, apitest.NewPassword)
		c.NextMail(t, u.Email, "password-changed")
		refuse(t, apitest.OpResetPassword, token)
	})
	run("expired", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		token := reset(t, u.Email)
		c.Clock.Advance(time.Hour + time.Second)
		refuse(t, apitest.OpResetPassword, token)
	})
	run("replaced by a newer request", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		older := reset(t, u.Email)
		newer := reset(t, u.Email)
		refuse(t, apitest.OpResetPassword, older)
		c.ResetPassword(t, newer, apitest.NewPassword)
	})
	run("after a password change", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		token := reset(t, u.Email)
		apitest.Data[apitest.User](t, c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
			"in": apitest.Vars{"password": "another passphrase", "currentPassword": apitest.Password}}), "updateUser")
		refuse(t, apitest.OpResetPassword, token)
	})
	run("after an email change", func(t *testing.T) {
		u, _ := c.SignUpMailed(t)
		token := reset(t, u.Email)
		apitest.Data[apitest.User](t, c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
			"in": apitest.Vars{"email": apitest.Email(), "currentPassword": apitest.Password}}), "updateUser")
		refuse(t, apitest.OpResetPassword, token)
	})
	run("of another kind", func(t *testing.T) {
		_, verify := c.SignUpMailed(t)
		refuse(t, apitest.OpResetPassword, verify)
	})
	run("unknown", func(t *testing.T) {
		refuse(t, apitest.OpResetPassword, "not-a-token")
		refuse(t, apitest.OpResetPassword, "")
		refuse(t, apitest.OpResetPassword, strings.Repeat("x", 10000))
	})
	for _, m := range messages {
		require.Equal(t, messages[0], m, "refused tokens answer with different messages")
	}
}

// TestResetTokenWorksOnce under concurrent use: of many resets with one
// token, exactly one sets its password.
func TestResetTokenWorksOnce(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	c.RequestPasswordReset(t, u.Email)
	token := c.MailedToken(t, u.Email, "reset-password")
	const n = 8
	answers := apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		return c.Post("", apitest.OpResetPassword, apitest.Vars{"token": token, "password": apitest.NewPassword + string(rune('a'+i))})
	})
	won := -1
	for i, r := range answers {
		if len(r.Errors) == 0 {
			require.Equal(t, -1, won, "two resets with one token succeeded")
			won = i
			continue
		}
		apitest.RequireCode(t, r, "BAD_USER_INPUT", "token")
	}
	require.NotEqual(t, -1, won, "no reset succeeded")
	c.SignIn(t, u.Email, apitest.NewPassword+string(rune('a'+won)))
}

// TestResetPasswordChecksThePassword: a new password the rules refuse is
// BAD_USER_INPUT on newPassword, and leaves the token good.
func TestResetPasswordChecksThePassword(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	c.RequestPasswordReset(t, u.Email)
	token := c.MailedToken(t, u.Email, "reset-password")
	for _, bad := range []string{"short", strings.Repeat("x", 1025)} {
		r := c.Do(t, "", apitest.OpResetPassword, apitest.Vars{"token": token, "password": bad})
		apitest.RequireCode(t, r, "BAD_USER_INPUT", "newPassword")
	}
	c.ResetPassword(t, token, apitest.NewPassword)
}

// TestMailLimitsPerAddress: one mail of a kind a MAIL_INTERVAL and
// MAIL_PER_HOUR an hour to one address; a request past them answers
// exactly as one that sent mail, and sends nothing.
func TestMailLimitsPerAddress(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true, Config: func(c *app.Config) { c.Mail.PerHour = 3 }})
	ctx := context.Background()
	u, _ := c.SignUpMailed(t)
	resets := func() int {
		return c.DB.OutboxMail.Query().Where(outboxmail.Recipient(u.Email), outboxmail.Kind("reset-password")).CountX(ctx)
	}
	first := c.RequestPasswordReset(t, u.Email)
	c.Clock.Advance(59 * time.Second)
	limited := c.RequestPasswordReset(t, u.Email)
	require.Equal(t, string(first.Body), string(limited.Body))
	require.Equal(t, 1, resets(), "a second mail within a minute")

	c.Clock.Advance(time.Second)
	c.RequestPasswordReset(t, u.Email)
	c.Clock.Advance(time.Minute)
	c.RequestPasswordReset(t, u.Email)
	require.Equal(t, 3, resets())
	c.Clock.Advance(time.Minute)
	c.RequestPasswordReset(t, u.Email)
	require.Equal(t, 3, resets(), "a fourth mail within the hour, past MAIL_PER_HOUR=3")
	c.Clock.Advance(time.Hour - 2*time.Minute) // the first is an hour old
	c.RequestPasswordReset(t, u.Email)
	require.Equal(t, 4, resets())

	// Limited requests are audited too, and replace no token: the last
	// mail's token still works.
	for range 3 {
		c.NextMail(t, u.Email, "reset-password")
	}
	last := c.MailedToken(t, u.Email, "reset-password")
	c.ResetPassword(t, last, apitest.NewPassword)
	n := c.DB.AuditEvent.Query().Where(auditevent.Action("password.reset_requested"), auditevent.DetailHasPrefix("no mail")).CountX(ctx)
	require.Equal(t, 2, n)
}

// TestPasswordResetFloodWaits: more requestPasswordReset at once than the
// work left after their answers may run (64) are all answered true: those
// past the bound wait for a turn, rather than being turned away.
func TestPasswordResetFloodWaits(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	const n = 150
	for _, r := range apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		email := apitest.Email()
		if i == 0 {
			email = u.Email
		}
		return c.Post("", apitest.OpRequestPasswordReset, apitest.Vars{"email": email})
	}) {
		require.JSONEq(t, `{"data":{"requestPasswordReset":true}}`, string(r.Body))
	}
	c.Accounts.Wait()
	c.MailedToken(t, u.Email, "reset-password")
}
