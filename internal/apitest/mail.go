package apitest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/mail/mailtest"
)

// NewPassword is the password the helpers of mailed links set.
const NewPassword = "a brand new passphrase"

// The paths under PublicURL of the links in mail.
const (
	VerifyEmailPath        = "/verify-email"
	ResetPasswordPath      = "/reset-password"
	ConfirmEmailChangePath = "/confirm-email-change"
)

// LinkToken returns the token of m's one link to path under PublicURL
// (VerifyEmailPath, say), failing the test unless m has exactly one such
// link, to PublicURL.
func LinkToken(t testing.TB, m *mailtest.Message, path string) string {
	t.Helper()
	link := m.Link(t, path)
	require.Equal(t, PublicURL+path, link.Scheme+"://"+link.Host+link.Path, "the link's base")
	token := link.Query().Get("token")
	require.NotEmpty(t, token, "a link without its token: %s", link)
	return token
}

// NextMail returns the next mail the test's SMTP server receives, and
// requires it to go to to and to be of kind (its template's name, such as
// "reset-password", which the outbox row that its Message-ID names
// keeps).
func (c *Client) NextMail(t testing.TB, to, kind string) *mailtest.Message {
	t.Helper()
	m := c.Mail.Next(t)
	require.Equal(t, []string{to}, m.To, "recipients of a mail, want a %s mail", kind)
	id, _, _ := strings.Cut(strings.Trim(m.Header(t, "Message-ID"), "<>"), "@")
	row, err := c.DB.OutboxMail.Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err, "the outbox row of the mail to %s", to)
	require.Equal(t, kind, row.Kind, "the kind of the mail to %s", to)
	return m
}

// MailedToken returns the token of the link in the next mail the test's
// SMTP server receives, which must be a kind mail to to: kind is
// "verify-email", "reset-password" or "confirm-email-change", and the
// link's path under PublicURL is "/" + kind.
func (c *Client) MailedToken(t testing.TB, to, kind string) string {
	t.Helper()
	return LinkToken(t, c.NextMail(t, to, kind), "/"+kind)
}

// NextMails returns the next n mails the test's SMTP server receives, by
// recipient, requiring one each: the mails one transaction queued go out
// in any order.
func (c *Client) NextMails(t testing.TB, n int) map[string]*mailtest.Message {
	t.Helper()
	got := map[string]*mailtest.Message{}
	for range n {
		m := c.Mail.Next(t)
		require.Len(t, m.To, 1, "recipients of a mail")
		require.NotContains(t, got, m.To[0], "two mails to %s", m.To[0])
		got[m.To[0]] = m
	}
	return got
}

// SignUpMailed signs up a FREE user on a server with Options.Mail and takes
// the verification mail sign-up sends, so that the test's next mail is its
// own; it returns the user and the token of that mail's link.
func (c *Client) SignUpMailed(t testing.TB) (AuthPayload, string) {
	t.Helper()
	u := c.SignUp(t)
	return u, c.MailedToken(t, u.Email, "verify-email")
}

// VerifyEmail verifies an email with token and requires its user,
// verified.
func (c *Client) VerifyEmail(t testing.TB, token string) User {
	t.Helper()
	u := Data[User](t, c.Do(t, "", OpVerifyEmail, Vars{"token": token}), "verifyEmail")
	require.True(t, u.EmailVerified, "verifyEmail answered an unverified user")
	return u
}

// RequestPasswordReset asks for a password reset of email, requires the
// answer every well-formed email gets, and waits for the work the request
// left to run after its answer (see account.Service.Wait).
func (c *Client) RequestPasswordReset(t testing.TB, email string) *Response {
	t.Helper()
	r := c.Do(t, "", OpRequestPasswordReset, Vars{"email": email})
	require.JSONEq(t, `{"data":{"requestPasswordReset":true}}`, string(r.Body))
	c.Accounts.Wait()
	return r
}

// ResetPassword sets password with the token of a reset link and
// requires a new session.
func (c *Client) ResetPassword(t testing.TB, token, password string) AuthPayload {
	t.Helper()
	return Data[AuthPayload](t, c.Do(t, "", OpResetPassword, Vars{"token": token, "password": password}), "resetPassword")
}

// RequestEmailChange asks, as s, to change s's email to newEmail with
// password, and returns the answer.
func (c *Client) RequestEmailChange(t testing.TB, s AuthPayload, newEmail, password string) *Response {
	t.Helper()
	return c.Do(t, s.Token, OpRequestEmailChange, Vars{"email": newEmail, "password": password})
}

// RequireTokenRefused requires op (OpVerifyEmail, OpResetPassword with
// NewPassword, or OpConfirmEmailChange) with token to be refused as every
// bad token is, BAD_USER_INPUT on token, and returns the message.
func (c *Client) RequireTokenRefused(t testing.TB, op, token string) string {
	t.Helper()
	vars := Vars{"token": token}
	if op == OpResetPassword {
		vars["password"] = NewPassword
	}
	return RequireCode(t, c.Do(t, "", op, vars), "BAD_USER_INPUT", "token").Message
}
