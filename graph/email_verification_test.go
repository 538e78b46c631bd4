package graph_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent/emailtoken"
	"bitgate/ent/outboxmail"
	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/app"
)

// TestSignupMailsAVerificationLink: a new account is unverified and gets a
// link, multipart, to PUBLIC_URL/verify-email; the link verifies it once.
func TestSignupMailsAVerificationLink(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u := c.SignUp(t)
	require.False(t, u.EmailVerified, "a new account is verified")
	m := c.NextMail(t, u.Email, "verify-email")
	parts := m.Parts(t)
	require.Contains(t, parts["text/html"], apitest.PublicURL+apitest.VerifyEmailPath+"?token=", "the HTML part has no link")
	require.Contains(t, parts["text/plain"], "24 hours")
	token := apitest.LinkToken(t, m, apitest.VerifyEmailPath)

	require.Equal(t, u.ID, c.VerifyEmail(t, token).ID)
	require.True(t, c.Me(t, u.Token).EmailVerified)
	c.RequireTokenRefused(t, apitest.OpVerifyEmail, token)
}

// TestRequestEmailVerification mails a new link that replaces the older
// one, and nothing once the email is verified.
func TestRequestEmailVerification(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	ctx := context.Background()
	u, older := c.SignUpMailed(t)
	c.Clock.Advance(time.Minute) // past MAIL_INTERVAL
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil), "requestEmailVerification"))
	newer := c.MailedToken(t, u.Email, "verify-email")
	c.RequireTokenRefused(t, apitest.OpVerifyEmail, older)
	c.VerifyEmail(t, newer)

	c.Clock.Advance(2 * time.Minute) // past MAIL_INTERVAL
	sent := c.DB.OutboxMail.Query().Where(outboxmail.Recipient(u.Email)).CountX(ctx)
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil), "requestEmailVerification"))
	require.Equal(t, sent, c.DB.OutboxMail.Query().Where(outboxmail.Recipient(u.Email)).CountX(ctx), "a verification mail to a verified email")
	apitest.RequireCode(t, c.Do(t, "", apitest.OpRequestEmailVerification, nil), "UNAUTHENTICATED")
}

// TestVerificationTokenRefusals: a verification token works for 24 hours,
// and only for the address it was mailed to.
func TestVerificationTokenRefusals(t *testing.T) {
	t.Parallel()
	t.Run("expired", func(t *testing.T) {
		c := apitest.New(t, apitest.Options{Mail: true})
		_, token := c.SignUpMailed(t)
		c.Clock.Advance(24*time.Hour + time.Second)
		c.RequireTokenRefused(t, apitest.OpVerifyEmail, token)
	})
	t.Run("just before it expires", func(t *testing.T) {
		c := apitest.New(t, apitest.Options{Mail: true})
		_, token := c.SignUpMailed(t)
		c.Clock.Advance(24*time.Hour - time.Second)
		c.VerifyEmail(t, token)
	})
	t.Run("after an email change", func(t *testing.T) {
		c := apitest.New(t, apitest.Options{Mail: true})
		u, token := c.SignUpMailed(t)
		newEmail := apitest.Email()
		changed := apitest.Data[apitest.User](t, c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
			"in": apitest.Vars{"email": newEmail, "currentPassword": apitest.Password}}), "updateUser")
		require.False(t, changed.EmailVerified)
		c.RequireTokenRefused(t, apitest.OpVerifyEmail, token)
	})
	t.Run("a reset token", func(t *testing.T) {
		c := apitest.New(t, apitest.Options{Mail: true})
		u, _ := c.SignUpMailed(t)
		c.RequestPasswordReset(t, u.Email)
		c.RequireTokenRefused(t, apitest.OpVerifyEmail, c.MailedToken(t, u.Email, "reset-password"))
	})
}

// TestOperatorsVouchForEmails: accounts an ADMIN makes (createUser,
// create-admin) are verified; accounts stored before verification existed
// are not.
func TestOperatorsVouchForEmails(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	created := apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpCreateUser, apitest.Vars{"in": apitest.Vars{
		"firstName": "P", "lastName": "Q", "email": apitest.Email(), "password": apitest.Password,
	}}), "createUser")
	require.True(t, created.EmailVerified, "createUser")

	made, _, err := c.Accounts.EnsureAdmin(context.Background(), account.CreateUserInput{
		FirstName: "A", LastName: "B", Email: apitest.Email(), Password: apitest.Password,
	}, false)
	require.NoError(t, err)
	require.NotNil(t, made.EmailVerifiedAt, "create-admin")

	older := c.StoreUser(t, apitest.Free)
	me := apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpUser, apitest.Vars{"id": older.ID.String()}), "user")
	require.False(t, me.EmailVerified, "an account older than verification")
}

// TestEmailVerificationRequired: with EMAIL_VERIFICATION=required, fields
// under @hasPermission (and node for what they guard) answer FORBIDDEN
// EMAIL_NOT_VERIFIED until the email is verified, whatever the level;
// me, requestEmailVerification and verifyEmail work meanwhile; no caller
// is UNAUTHENTICATED as ever.
func TestEmailVerificationRequired(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true, Config: func(c *app.Config) { c.Accounts.EmailVerification = "required" }})
	u, token := c.SignUpMailed(t)
	note := c.StoreNote(t, u.ID)
	admin := c.NewUser(t, apitest.Admin) // stored unverified
	gated := []struct {
		token, op string
		vars      apitest.Vars
	}{
		{u.Token, apitest.OpBooks, nil},
		{u.Token, apitest.OpNotes, nil},
		{u.Token, apitest.OpCreateNote, apitest.Vars{"in": apitest.Vars{"title": "t", "content": "c"}}},
		{u.Token, apitest.OpNode, apitest.Vars{"id": note.ID.String()}},
		{admin.Token, apitest.OpUsers, nil},
		{admin.Token, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "t", "author": "a"}}},
	}
	for _, g := range gated {
		e := apitest.RequireCode(t, c.Do(t, g.token, g.op, g.vars), "FORBIDDEN")
		require.Equal(t, "EMAIL_NOT_VERIFIED", e.Extensions["reason"], "%s: %+v", g.op, e)
	}
	apitest.RequireCode(t, c.Do(t, "", apitest.OpBooks, nil), "UNAUTHENTICATED")
	// The email first, before a permission the user lacks.
	e := apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpUsers, nil), "FORBIDDEN")
	require.Equal(t, "EMAIL_NOT_VERIFIED", e.Extensions["reason"], "a FREE user on a PAID field: %+v", e)
	// An unverified ADMIN acts on nobody else, in fields without
	// @hasPermission too.
	for _, r := range []*apitest.Response{
		c.Do(t, admin.Token, apitest.OpUser, apitest.Vars{"id": u.ID}),
		c.Do(t, admin.Token, apitest.OpUserSessions, apitest.Vars{"id": u.ID}),
		c.Do(t, admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": apitest.Vars{"permissionLevel": apitest.Paid}}),
		c.Do(t, admin.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, u)}),
	} {
		require.NotEmpty(t, r.Errors, "an unverified ADMIN acted on another user: %s", r.Body)
	}
	require.False(t, c.Me(t, u.Token).EmailVerified)
	c.Clock.Advance(time.Minute)
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil), "requestEmailVerification"))
	c.NextMail(t, u.Email, "verify-email")
	c.RequireTokenRefused(t, apitest.OpVerifyEmail, token) // replaced
	c.Clock.Advance(time.Minute)
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil), "requestEmailVerification"))
	c.VerifyEmail(t, c.MailedToken(t, u.Email, "verify-email"))

	// The same tokens now pass: the gate reads the user as stored now.
	for _, g := range gated[:4] {
		require.Empty(t, c.Do(t, g.token, g.op, g.vars).Errors, "%s after verifying", g.op)
	}
	e = apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpUsers, nil), "FORBIDDEN")
	require.Equal(t, "PAID", e.Extensions["requiredPermission"], "a verified FREE user lacks PAID as before")
}

// TestEmailVerificationRequiredNeedsMail: a server cannot require
// verified emails and send no mail.
func TestEmailVerificationRequiredNeedsMail(t *testing.T) {
	t.Parallel()
	cfg := app.Defaults()
	cfg.Accounts.EmailVerification, cfg.Mail.Disabled = "required", true
	require.ErrorContains(t, cfg.Validate(), "EMAIL_VERIFICATION=required")
}

// TestMailDisabled: with MAIL_DISABLED, the operations that must send mail
// answer FORBIDDEN MAIL_DISABLED (for known and unknown emails alike);
// sign-up and password changes work without mail or tokens.
func TestMailDisabled(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Mail.Disabled = true }})
	ctx := context.Background()
	u := c.SignUp(t)
	for _, r := range []*apitest.Response{
		c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil),
		c.Do(t, "", apitest.OpRequestPasswordReset, apitest.Vars{"email": u.Email}),
		c.Do(t, "", apitest.OpRequestPasswordReset, apitest.Vars{"email": apitest.Email()}),
		c.Do(t, u.Token, apitest.OpRequestEmailChange, apitest.Vars{"email": apitest.Email(), "password": apitest.Password}),
	} {
		e := apitest.RequireCode(t, r, "FORBIDDEN")
		require.Equal(t, "MAIL_DISABLED", e.Extensions["reason"], "%+v", e)
	}
	apitest.Data[apitest.User](t, c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
		"in": apitest.Vars{"password": apitest.NewPassword, "email": apitest.Email(), "currentPassword": apitest.Password}}), "updateUser")
	require.Zero(t, c.DB.OutboxMail.Query().CountX(ctx), "mail queued with mail disabled")
	require.Zero(t, c.DB.EmailToken.Query().Where(emailtoken.KindEQ(emailtoken.KindVerifyEmail)).CountX(ctx))
}

// TestEmailTokensAreStoredHashed: the tokens of verification, reset and
// email-change links are random (at least 128 bits), and the database
// keeps only a hash of each: no row holds a mailed token.
func TestEmailTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, verify := c.SignUpMailed(t)
	c.RequestPasswordReset(t, u.Email)
	reset := c.MailedToken(t, u.Email, "reset-password")
	c.Clock.Advance(2 * time.Minute) // past MAIL_INTERVAL
	newEmail := apitest.Email()
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.Password), "requestEmailChange"))
	change := apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)

	rows := c.DB.EmailToken.Query().AllX(t.Context())
	require.Len(t, rows, 3, "email token rows")
	for _, token := range []string{verify, reset, change} {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err, "a mailed token %q", token)
		require.GreaterOrEqual(t, len(raw), 16, "bytes of a mailed token")
		for _, row := range rows {
			require.NotContains(t, row.TokenHash, token, "a %s row keeps a mailed token", row.Kind)
		}
	}
}

// TestBadTokensAnswerAlike: an unknown, malformed, empty or spent token
// gets one message from verifyEmail, resetPassword and
// confirmEmailChange alike.
func TestBadTokensAnswerAlike(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, spent := c.SignUpMailed(t)
	c.VerifyEmail(t, spent)
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	var messages []string
	for _, op := range []string{apitest.OpVerifyEmail, apitest.OpResetPassword, apitest.OpConfirmEmailChange} {
		for _, token := range []string{unknown, spent, "not-a-token", "", strings.Repeat("x", 10000)} {
			messages = append(messages, c.RequireTokenRefused(t, op, token))
		}
	}
	for _, m := range messages {
		require.Equal(t, messages[0], m, "refused tokens answer with different messages")
		require.NotContains(t, m, u.Email)
	}
}
