package graph_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent/emailtoken"
	"bitgate/ent/outboxmail"
	"bitgate/internal/apitest"
	"bitgate/internal/metrics"
)

// TestLinksIgnoreForwardedHeaders: a link in a mail is PUBLIC_URL's, even
// when the request that caused it names another host in Host,
// X-Forwarded-Host or Forwarded, from a trusted proxy at that.
func TestLinksIgnoreForwardedHeaders(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	forged := apitest.Header("Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http",
		"Forwarded", "for=192.0.2.1;host=evil.example;proto=http", "X-Forwarded-For", "192.0.2.1")
	email := apitest.Email()
	apitest.Data[apitest.AuthPayload](t, c.DoWithHeader(t, forged, apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(email)}), "signup")
	r := c.DoWithHeader(t, forged, apitest.OpRequestPasswordReset, apitest.Vars{"email": email})
	require.True(t, apitest.Data[bool](t, r, "requestPasswordReset"))
	for _, kind := range []string{"verify-email", "reset-password"} {
		m := c.NextMail(t, email, kind)
		require.NotContains(t, string(m.Raw), "evil.example", "a %s mail names the forged host", kind)
		apitest.LinkToken(t, m, "/"+kind) // on PUBLIC_URL
	}
}

// TestMailSurvivesAnSMTPOutage: with the SMTP server down, requests that
// queue mail succeed, and the mail arrives once the server is back.
func TestMailSurvivesAnSMTPOutage(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	signUpAndResetWhileSMTPIsDown(t, c)
	require.Empty(t, c.Mail.Received())

	c.Mail.Restart(t)
	c.Clock.Advance(31 * time.Second) // past the first retry
	c.Mailer.Poke()
	var links []string
	for range 2 {
		m := c.Mail.Next(t)
		for _, path := range []string{apitest.VerifyEmailPath, apitest.ResetPasswordPath} {
			if strings.Contains(m.Text(t), apitest.PublicURL+path+"?token=") {
				links = append(links, path)
			}
		}
	}
	require.ElementsMatch(t, []string{apitest.VerifyEmailPath, apitest.ResetPasswordPath}, links)
}

// signUpAndResetWhileSMTPIsDown stops c's SMTP server, signs up a user and
// asks for a reset of their password, and returns once the sender tried
// both mails (verification and reset), found the server down, and left
// them for a retry.
func signUpAndResetWhileSMTPIsDown(t *testing.T, c *apitest.Client) apitest.AuthPayload {
	t.Helper()
	c.Mail.Stop()
	u := c.SignUp(t)
	c.RequestPasswordReset(t, u.Email)
	require.Eventually(t, func() bool {
		return c.DB.OutboxMail.Query().Where(outboxmail.LastErrorNEQ("")).CountX(t.Context()) == 2
	}, 20*time.Second, 10*time.Millisecond, "the sender never tried the server that is down")
	return u
}

// TestLinkMailGoesWithItsToken: a link's mail that could not be sent
// before its token expired is dropped then (its token no longer waits in
// the outbox), while the others wait for the SMTP server as ever.
func TestLinkMailGoesWithItsToken(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	ctx := context.Background()
	u := signUpAndResetWhileSMTPIsDown(t, c)

	c.Clock.Advance(time.Hour + time.Minute) // past the reset token's hour, within verification's 24
	c.Mail.Restart(t)
	c.Mailer.Poke()
	c.NextMail(t, u.Email, "verify-email")
	reset := c.DB.OutboxMail.Query().Where(outboxmail.Kind("reset-password")).OnlyX(ctx)
	require.Equal(t, outboxmail.StateDropped, reset.State)
	require.Empty(t, reset.TextBody+reset.HTMLBody, "a dropped mail keeps its token")
	sent, err := c.Mailer.SendDue(ctx)
	require.NoError(t, err)
	require.Zero(t, sent)
	require.Len(t, c.Mail.Received(), 1, "the expired link was mailed")
}

// TestMailOutlivesItsInstance: mail queued by an instance whose sender
// never ran (as if it was killed between queueing and sending) is sent by
// the next instance on the database, once.
func TestMailOutlivesItsInstance(t *testing.T) {
	t.Parallel()
	dead := apitest.New(t, apitest.Options{Mail: true, MailSenderOff: true})
	u := dead.SignUp(t)
	dead.RequestPasswordReset(t, u.Email)
	require.Empty(t, dead.Mail.Received(), "the dead instance sent mail")

	next := dead.NewInstance(t, func(o *apitest.Options) { o.MailSenderOff = false })
	next.NextMail(t, u.Email, "verify-email")
	next.MailedToken(t, u.Email, "reset-password")
	_, err := next.Mailer.SendDue(t.Context())
	require.NoError(t, err)
	require.Len(t, next.Mail.Received(), 2, "a mail went out twice")
}

// TestInstancesSendEachMailOnce: two instances with their senders on one
// database send each mail queued on either exactly once.
func TestInstancesSendEachMailOnce(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{Mail: true})
	b := a.NewInstance(t)
	const n = 20
	want := map[string]bool{}
	for i := range n {
		c := a
		if i%2 == 1 {
			c = b
		}
		want[c.SignUp(t).Email] = true
	}
	ids := map[string]bool{}
	for range n {
		m := a.Mail.Next(t)
		require.True(t, want[m.To[0]], "a mail to %v", m.To)
		delete(want, m.To[0])
		id := m.Header(t, "Message-ID")
		require.False(t, ids[id], "mail %s sent twice", id)
		ids[id] = true
	}
	// Every mail is marked sent (its sender records it just after the
	// SMTP server took it), and then neither sender finds any to send.
	require.Eventually(t, func() bool {
		return !a.DB.OutboxMail.Query().Where(outboxmail.StateNEQ(outboxmail.StateSent)).ExistX(t.Context())
	}, 20*time.Second, 10*time.Millisecond, "mail not marked sent")
	for _, c := range []*apitest.Client{a, b} {
		sent, err := c.Mailer.SendDue(t.Context())
		require.NoError(t, err)
		require.Zero(t, sent, "mail left to send")
	}
	require.Len(t, a.Mail.Received(), n)
}

// TestMailOperationsAreLimitedPerAddress: the per-address limits apply to
// every operation of mailed links, each pair (request and use) sharing a
// bucket, and each may appear once in a request.
func TestMailOperationsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true, AuthRate: 0.001, AuthBurst: 2})
	u := c.NewUser(t, apitest.Free)
	for _, pair := range [][2]struct {
		token, op string
		vars      apitest.Vars
	}{
		{{"", apitest.OpRequestPasswordReset, apitest.Vars{"email": apitest.Email()}}, {"", apitest.OpResetPassword, apitest.Vars{"token": "x", "password": apitest.NewPassword}}},
		{{u.Token, apitest.OpRequestEmailVerification, nil}, {"", apitest.OpVerifyEmail, apitest.Vars{"token": "x"}}},
		{{u.Token, apitest.OpRequestEmailChange, apitest.Vars{"email": "not an email", "password": apitest.Password}}, {"", apitest.OpConfirmEmailChange, apitest.Vars{"token": "x"}}},
	} {
		for _, call := range []int{0, 1} {
			require.NotEqual(t, "RATE_LIMITED", c.Do(t, pair[call].token, pair[call].op, pair[call].vars).Code())
		}
		for _, call := range pair {
			apitest.RequireCode(t, c.Do(t, call.token, call.op, call.vars), "RATE_LIMITED")
		}
	}
	c.Accounts.Wait()

	aliased := `mutation { a: requestPasswordReset(email: "a@example.com") b: requestPasswordReset(email: "b@example.com") }`
	apitest.RequireCode(t, c.Do(t, "", aliased, nil), "RATE_LIMITED")
}

// TestPasswordResetRequestSpendsNoHashing: asking for a reset costs no
// password hash, for a known email as for an unknown one.
func TestPasswordResetRequestSpendsNoHashing(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	c := apitest.New(t, apitest.Options{Mail: true, Metrics: m})
	u := c.SignUp(t)
	hashes := func() float64 {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		match := regexp.MustCompile(`(?m)^bitgate_hash_wait_seconds_count(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(rec.Body.String(), -1)
		total := 0.0
		for _, s := range match {
			v, err := strconv.ParseFloat(s[1], 64)
			require.NoError(t, err)
			total += v
		}
		return total
	}
	before := hashes()
	require.Positive(t, before, "the sign-up's hash was not counted")
	c.RequestPasswordReset(t, u.Email)
	c.RequestPasswordReset(t, apitest.Email())
	require.Equal(t, before, hashes(), "a reset request hashed")
}

// TestExpiredEmailTokensArePruned: the hourly prune deletes the tokens of
// mailed links once they expire, not before.
func TestExpiredEmailTokensArePruned(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Mail: true})
	ctx := context.Background()
	u, _ := c.SignUpMailed(t)
	c.RequestPasswordReset(t, u.Email)
	count := func(kind emailtoken.Kind) int {
		return c.DB.EmailToken.Query().Where(emailtoken.KindEQ(kind)).CountX(ctx)
	}
	c.Clock.Advance(time.Hour + time.Second)
	_, err := c.Accounts.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, count(emailtoken.KindResetPassword), "an expired reset token was kept")
	require.Equal(t, 1, count(emailtoken.KindVerifyEmail), "a live verification token went")
	c.Clock.Advance(23 * time.Hour)
	_, err = c.Accounts.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, count(emailtoken.KindVerifyEmail))
}
