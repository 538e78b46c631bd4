package graph_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent/outboxmail"
	"bitgate/internal/apitest"
	"bitgate/internal/mail/mailtest"
)

// TestEmailChange: a request mails a link to the new address and a
// notice to the old one, and changes nothing; the link changes the email,
// verified, and the old address gets a notice that it changed.
func TestEmailChange(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	newEmail := apitest.Email()

	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, "  "+strings.ToUpper(newEmail), apitest.Password), "requestEmailChange"))
	mails := c.NextMails(t, 2)
	token := apitest.LinkToken(t, mails[newEmail], apitest.ConfirmEmailChangePath)
	require.Contains(t, mails[newEmail].Text(t), u.Email, "the confirmation does not name the old address")
	require.Contains(t, mails[u.Email].Text(t), newEmail, "the notice to the old address does not name the new one")
	require.NotContains(t, mails[u.Email].Text(t), token, "the old address got the token")
	require.Equal(t, u.Email, c.Me(t, u.Token).Email, "the email changed before the link was used")

	changed := apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}), "confirmEmailChange")
	require.Equal(t, newEmail, changed.Email)
	require.True(t, changed.EmailVerified, "the link reached the new address")
	notice := c.NextMail(t, u.Email, "email-changed")
	require.Contains(t, notice.Text(t), newEmail)
	c.SignIn(t, newEmail, apitest.Password)
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password)), "UNAUTHENTICATED")
	c.RequireTokenRefused(t, apitest.OpConfirmEmailChange, token)
}

// TestEmailChangeRefusals: the request needs the current password, and
// mails nothing to another account's address (answering alike); the link
// fails once another account took the address (CONFLICT, the token still
// good), and after a new password.
func TestEmailChangeRefusals(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	other, _ := c.SignUpMailed(t)

	apitest.RequireCode(t, c.RequestEmailChange(t, u, apitest.Email(), apitest.WrongPassword), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.RequestEmailChange(t, u, apitest.Email(), ""), "BAD_USER_INPUT", "currentPassword")
	apitest.RequireCode(t, c.RequestEmailChange(t, u, "not an email", apitest.Password), "BAD_USER_INPUT", "newEmail")
	apitest.RequireCode(t, c.RequestEmailChange(t, u, u.Email, apitest.Password), "BAD_USER_INPUT", "newEmail")
	// Another account's address: answered as if mailed, and nothing sent.
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, strings.ToUpper(other.Email), apitest.Password), "requestEmailChange"))
	require.False(t, c.DB.OutboxMail.Query().Where(outboxmail.Recipient(other.Email), outboxmail.Kind("confirm-email-change")).ExistX(t.Context()),
		"a confirmation mailed to another account's address")
	apitest.RequireCode(t, c.Do(t, "", apitest.OpRequestEmailChange, apitest.Vars{"email": apitest.Email(), "password": apitest.Password}), "UNAUTHENTICATED")

	// Taken meanwhile.
	newEmail := apitest.Email()
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.Password), "requestEmailChange"))
	token := apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	taker := c.SignUpAs(t, newEmail)
	c.NextMail(t, newEmail, "verify-email")
	apitest.RequireCode(t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}), "CONFLICT")
	admin := c.NewUser(t, apitest.Admin)
	require.True(t, apitest.Data[bool](t, c.Do(t, admin.Token, apitest.OpDeleteUser, apitest.Vars{"id": taker.ID}), "deleteUser"))
	apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}), "confirmEmailChange")
	c.NextMail(t, u.Email, "email-changed")

	// A new password ends the link.
	c.Clock.Advance(2 * time.Minute)
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, other, apitest.Email(), apitest.Password), "requestEmailChange"))
	var link string
	for to, m := range c.NextMails(t, 2) {
		if to != other.Email {
			link = apitest.LinkToken(t, m, apitest.ConfirmEmailChangePath)
		}
	}
	apitest.Data[apitest.User](t, c.Do(t, other.Token, apitest.OpUpdateUser, apitest.Vars{"id": other.ID,
		"in": apitest.Vars{"password": apitest.NewPassword, "currentPassword": apitest.Password}}), "updateUser")
	c.RequireTokenRefused(t, apitest.OpConfirmEmailChange, link)
}

// TestUpdateUserChangesEmailUnverified: updateUser still sets an email at
// once (for oneself with the password, for anyone as an ADMIN), but
// unverified: the old address gets a notice and the new one a
// verification link.
func TestUpdateUserChangesEmailUnverified(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, token := c.SignUpMailed(t)
	c.VerifyEmail(t, token)
	admin := c.NewUser(t, apitest.Admin)

	for _, by := range []apitest.AuthPayload{u, admin} {
		before := c.Me(t, u.Token).Email
		newEmail := apitest.Email()
		in := apitest.Vars{"email": newEmail}
		if by.ID == u.ID {
			in["currentPassword"] = apitest.Password
		}
		changed := apitest.Data[apitest.User](t, c.Do(t, by.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": in}), "updateUser")
		require.Equal(t, newEmail, changed.Email)
		require.False(t, changed.EmailVerified, "an email set by updateUser is verified")
		mails := c.NextMails(t, 2)
		require.Contains(t, mails[before].Text(t), newEmail, "the notice to the old address")
		c.VerifyEmail(t, apitest.LinkToken(t, mails[newEmail], apitest.VerifyEmailPath))
	}
}

// TestAdminSetPasswordNotice: a password an ADMIN sets is told to the
// user as an administrator's; the user's own change as theirs.
func TestAdminSetPasswordNotice(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	admin := c.NewUser(t, apitest.Admin)
	apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
		"in": apitest.Vars{"password": apitest.NewPassword}}), "updateUser")
	require.Contains(t, c.NextMail(t, u.Email, "password-changed").Text(t), "an administrator set a new password")

	self := c.SignIn(t, u.Email, apitest.NewPassword)
	apitest.Data[apitest.User](t, c.Do(t, self.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
		"in": apitest.Vars{"password": "yet another passphrase", "currentPassword": apitest.NewPassword}}), "updateUser")
	require.NotContains(t, c.NextMail(t, u.Email, "password-changed").Text(t), "an administrator set")
	require.False(t, slices.ContainsFunc(c.Mail.Received(), func(m *mailtest.Message) bool { return m.To[0] == admin.Email }),
		"the ADMIN got mail")
}

// TestEmailLinksOfOneUserTakeTurns: concurrent requests of one user for
// links of one kind, to different addresses, all succeed, and only the
// last link works (each replaces the one before); concurrent uses of one
// link change the email once.
func TestEmailLinksOfOneUserTakeTurns(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	const n = 4
	addresses := make([]string, n)
	for i := range addresses {
		addresses[i] = apitest.Email()
	}
	for _, r := range apitest.Concurrently(t, n, func(i int) (*apitest.Response, error) {
		return c.Post(u.Token, apitest.OpRequestEmailChange, apitest.Vars{"email": addresses[i], "password": apitest.Password})
	}) {
		require.True(t, apitest.Data[bool](t, r, "requestEmailChange"))
	}
	links := map[string]string{}
	for range 2 * n { // n links, and n notices to the old address, in any order
		if m := c.Mail.Next(t); m.To[0] != u.Email {
			links[m.To[0]] = apitest.LinkToken(t, m, apitest.ConfirmEmailChangePath)
		}
	}
	var works []string
	for _, to := range addresses {
		token := links[to]
		if r := c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}); len(r.Errors) == 0 {
			works = append(works, to)
		}
	}
	require.Len(t, works, 1, "links that worked")

	c.Clock.Advance(2 * time.Minute)
	changed := c.SignIn(t, works[0], apitest.Password)
	newEmail := apitest.Email()
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, changed, newEmail, apitest.Password), "requestEmailChange"))
	token := apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	confirmed := 0
	for _, r := range apitest.Concurrently(t, n, func(int) (*apitest.Response, error) {
		return c.Post("", apitest.OpConfirmEmailChange, apitest.Vars{"token": token})
	}) {
		if len(r.Errors) == 0 {
			confirmed++
		} else {
			apitest.RequireCode(t, r, "BAD_USER_INPUT", "token")
		}
	}
	require.Equal(t, 1, confirmed, "uses of one link that worked")
}

// TestNoticesAreLimitedPerAddress: notices go under the hourly
// per-address limit (MAIL_PER_HOUR, 5), so that moving one's email onto
// someone's address and away again, over and over, mails them 5 notices,
// not one each time (and one verification link, as ever).
func TestNoticesAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	own, victim := u.Email, apitest.Email()
	for range 8 {
		for _, to := range []string{victim, own} {
			apitest.Data[apitest.User](t, c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID,
				"in": apitest.Vars{"email": to, "currentPassword": apitest.Password}}), "updateUser")
		}
	}
	for kind, want := range map[string]int{"email-changed": 5, "verify-email": 1} {
		n := c.DB.OutboxMail.Query().Where(outboxmail.Recipient(victim), outboxmail.Kind(kind)).CountX(t.Context())
		require.Equal(t, want, n, "%s mails to the address moved onto and away from 8 times", kind)
	}
}

// TestEmailChangeTokenExpires: an email-change token works for an hour.
func TestEmailChangeTokenExpires(t *testing.T) {
	t.Parallel()
	request := func(t *testing.T) (*apitest.Client, string) {
		t.Helper()
		c := apitest.New(t, apitest.Options{Mail: true})
		u, _ := c.SignUpMailed(t)
		newEmail := apitest.Email()
		require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.Password), "requestEmailChange"))
		return c, apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	}
	t.Run("expired", func(t *testing.T) {
		c, token := request(t)
		c.Clock.Advance(time.Hour + time.Second)
		c.RequireTokenRefused(t, apitest.OpConfirmEmailChange, token)
	})
	t.Run("just before it expires", func(t *testing.T) {
		c, token := request(t)
		c.Clock.Advance(time.Hour - time.Second)
		apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}), "confirmEmailChange")
	})
}

// TestNewerEmailChangeReplacesTheOlder: of two email-change requests one
// after the other, only the newer link works.
func TestNewerEmailChangeReplacesTheOlder(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	u, _ := c.SignUpMailed(t)
	request := func(newEmail string) string {
		t.Helper()
		require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.Password), "requestEmailChange"))
		return apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	}
	older := request(apitest.Email())
	c.Clock.Advance(2 * time.Minute) // past MAIL_INTERVAL
	newerEmail := apitest.Email()
	newer := request(newerEmail)

	c.RequireTokenRefused(t, apitest.OpConfirmEmailChange, older)
	changed := apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": newer}), "confirmEmailChange")
	require.Equal(t, newerEmail, changed.Email)
}
