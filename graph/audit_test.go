package graph_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent/auditevent"
	"bitgate/ent/user"
	"bitgate/internal/apitest"
)

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	free := c.SignUp(t)

	// Alice signs in, fails once, has a refresh token replayed, signs out.
	alice := c.SignUp(t)
	c.SignIn(t, alice.Email, apitest.Password)
	c.FailSignIn(t, alice.Email, 1)
	c.Refresh(t, alice.RefreshToken)
	c.Clock.Advance(11 * time.Second) // past the reuse grace
	c.RequireRefreshRefused(t, alice.RefreshToken)
	signin := c.SignIn(t, alice.Email, apitest.Password)
	h := apitest.Header("Authorization", "Bearer "+signin.Token, "X-Request-ID", "audit-signout-1")
	require.True(t, apitest.Data[bool](t, c.DoWithHeader(t, h, apitest.OpSignOut, nil), "signout"))

	// Bob gets locked out.
	bob := c.SignUp(t)
	c.FailSignIn(t, bob.Email, 5)
	c.RequireLocked(t, bob.Email, apitest.Password)

	// The admin promotes, then deletes Carol.
	carol := c.SignUp(t)
	apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": carol.ID, "in": apitest.Vars{"permissionLevel": 5}}), "updateUser")
	require.True(t, apitest.Data[bool](t, c.Do(t, admin.Token, apitest.OpDeleteUser, apitest.Vars{"id": carol.ID}), "deleteUser"))

	type page = apitest.Connection[apitest.AuditEvent]
	all := apitest.Data[page](t, c.Do(t, admin.Token, apitest.OpAuditEvents, apitest.Vars{"last": 50}), "auditEvents")
	stored := c.DB.AuditEvent.Query().CountX(ctx)
	require.Equal(t, stored, all.TotalCount)
	require.Less(t, stored, 50, "more events than one page holds")
	require.Len(t, all.Edges, stored)

	events := all.Nodes()
	for i := 1; i < len(events); i++ {
		require.False(t, events[i].CreatedAt.Before(events[i-1].CreatedAt), "events not oldest first")
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	find := func(t *testing.T, action, userID string) apitest.AuditEvent {
		t.Helper()
		for _, e := range events {
			if e.Action == action && str(e.UserID) == userID {
				return e
			}
		}
		require.Failf(t, "event missing", "no %s event for user %q in %+v", action, userID, events)
		return apitest.AuditEvent{}
	}
	for _, tc := range []struct {
		action, user, actor string
		count               int
	}{
		{"signin", alice.ID, "", 2},
		{"signin.failed", alice.ID, "", 1},
		{"signin.failed", bob.ID, "", 5},
		{"signin.locked", bob.ID, "", 1},
		{"refresh.reuse_detected", alice.ID, "", 1},
		{"signout", alice.ID, "", 1},
		{"user.permission_changed", carol.ID, admin.ID, 1},
		{"user.deleted", carol.ID, admin.ID, 1},
	} {
		t.Run(tc.action, func(t *testing.T) {
			e := find(t, tc.action, tc.user)
			require.Equal(t, tc.actor, str(e.ActorID), "actorID of %+v", e)
			require.Equal(t, "127.0.0.1", e.ClientIP, "clientIP of %+v", e)
			require.NotEmpty(t, e.RequestID, "requestID of %+v", e)
			require.False(t, e.CreatedAt.IsZero())
			n := 0
			for _, o := range events {
				if o.Action == tc.action && str(o.UserID) == tc.user {
					n++
				}
			}
			require.Equal(t, tc.count, n, "%s events of %s", tc.action, tc.user)
		})
	}
	require.Equal(t, "audit-signout-1", find(t, "signout", alice.ID).RequestID)
	require.Contains(t, find(t, "user.permission_changed", carol.ID).Detail, "5")
	for _, e := range events {
		for _, secret := range []string{apitest.Password, apitest.WrongPassword, alice.RefreshToken, alice.Token} {
			require.NotContains(t, e.Detail, secret, "event %+v holds a secret", e)
		}
	}
	n, err := c.DB.AuditEvent.Query().Where(auditevent.Action("signin.failed"), auditevent.UserIDIsNil()).Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no unknown-email failures were made")

	t.Run("pagination", func(t *testing.T) {
		first := apitest.Data[page](t, c.Do(t, admin.Token, apitest.OpAuditEvents, apitest.Vars{"first": 2}), "auditEvents")
		require.Len(t, first.Edges, 2)
		require.True(t, first.PageInfo.HasNextPage)
		require.Equal(t, events[0].Action, first.Edges[0].Node.Action)
	})
	t.Run("FREE is forbidden", func(t *testing.T) {
		apitest.RequireCode(t, c.Do(t, free.Token, apitest.OpAuditEvents, apitest.Vars{"first": 10}), "FORBIDDEN")
	})
	t.Run("anonymous is unauthenticated", func(t *testing.T) {
		apitest.RequireCode(t, c.Do(t, "", apitest.OpAuditEvents, apitest.Vars{"first": 10}), "UNAUTHENTICATED")
	})
	t.Run("first 101", func(t *testing.T) {
		apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpAuditEvents, apitest.Vars{"first": 101}), "BAD_USER_INPUT", "first")
	})
}

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &apitest.Log{}
	c := apitest.New(t, apitest.Options{Log: logs, Mail: true})
	const newPassword = "brand new s3cret passphrase"
	secrets := []string{apitest.Password, newPassword, apitest.NewPassword, apitest.WrongPassword, string(c.Forger().Key)}
	keep := func(s apitest.AuthPayload) apitest.AuthPayload {
		secrets = append(secrets, s.Token, s.RefreshToken)
		return s
	}

	u, verify := c.SignUpMailed(t)
	keep(u)
	secrets = append(secrets, verify)
	c.VerifyEmail(t, verify)
	u = keep(c.SignIn(t, u.Email, apitest.Password))
	c.FailSignIn(t, u.Email, 1)
	keep(c.Refresh(t, u.RefreshToken))
	c.Clock.Advance(11 * time.Second) // past the reuse grace
	c.RequireRefreshRefused(t, u.RefreshToken)
	u = keep(c.SignIn(t, u.Email, apitest.Password))
	update := func(current string) *apitest.Response {
		return c.Do(t, u.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": apitest.Vars{"password": newPassword, "currentPassword": current}})
	}
	apitest.Data[apitest.User](t, update(apitest.Password), "updateUser")
	c.NextMail(t, u.Email, "password-changed")
	// A wrong currentPassword, a malformed token and a bad JSON body with a
	// password in it.
	apitest.RequireCode(t, update(apitest.WrongPassword), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.Do(t, u.Token+"x", apitest.OpMe, nil), "UNAUTHENTICATED")
	c.Raw(t, "POST", "/graphql", apitest.Header(),
		[]byte(`{"query":"mutation { signin(email: \"`+u.Email+`\", password: \"`+newPassword+`\") { accessToken } }"`))
	u = keep(c.SignIn(t, u.Email, newPassword))

	// The mailed links: their tokens, and the password a reset sets.
	c.Clock.Advance(2 * time.Minute) // past the per-address mail limit of the notice
	c.RequestPasswordReset(t, u.Email)
	reset := c.MailedToken(t, u.Email, "reset-password")
	secrets = append(secrets, reset)
	u = keep(c.ResetPassword(t, reset, apitest.NewPassword))
	c.NextMail(t, u.Email, "password-changed")
	newEmail := apitest.Email()
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.NewPassword), "requestEmailChange"))
	change := apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	secrets = append(secrets, change)
	apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": change}), "confirmEmailChange")

	out := logs.String()
	require.Contains(t, out, "signin.failed", "the log was not captured")
	require.Contains(t, out, "user.password_changed", "the log was not captured")
	for i, line := range strings.Split(out, "\n") {
		for _, secret := range secrets {
			require.NotContains(t, line, secret, "log line %d holds a secret", i)
		}
		// Nor any part of a JWT (its signature is the secret part).
		require.NotRegexp(t, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.`), line, "log line %d holds a JWT", i)
	}
	events := c.DB.AuditEvent.Query().AllX(context.Background())
	require.NotEmpty(t, events)
	for _, e := range events {
		for _, secret := range secrets {
			require.NotContains(t, e.Action+" "+e.Detail, secret, "an audit event holds a secret")
		}
	}
}

// An audit event is written in the transaction of what it records: when it
// cannot be stored, what it records does not happen either, and nothing
// happens without its event.
func TestAuditEventsCommitWithWhatTheyRecord(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	u := c.SignUp(t)
	other := c.SignIn(t, u.Email, apitest.Password)
	events := c.DB.AuditEvent.Query().CountX(ctx)
	c.FailWrites(t, "INSERT", "audit_events")

	email := apitest.Email()
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(email)}), "INTERNAL_SERVER_ERROR")
	require.Zero(t, c.DB.User.Query().Where(user.Email(email)).CountX(ctx), "a sign-up without its audit event")

	sessions := c.DB.Session.Query().CountX(ctx)
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password)), "INTERNAL_SERVER_ERROR")
	require.Equal(t, sessions, c.DB.Session.Query().CountX(ctx), "a sign-in without its audit event")

	apitest.RequireCode(t, c.Do(t, other.Token, apitest.OpSignOut, nil), "INTERNAL_SERVER_ERROR")
	c.Me(t, other.Token) // still signed in

	r := c.Do(t, admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": apitest.Vars{"permissionLevel": apitest.Paid}})
	apitest.RequireCode(t, r, "INTERNAL_SERVER_ERROR")
	require.Equal(t, apitest.Free, c.Me(t, u.Token).PermissionLevel, "a permission change without its audit event")

	apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpDeleteUser, apitest.Vars{"id": u.ID}), "INTERNAL_SERVER_ERROR")
	c.Me(t, u.Token) // not deleted

	require.Equal(t, events, c.DB.AuditEvent.Query().CountX(ctx))
}

// An audit event that has no transaction to go in (a sign-in refused
// before any row is read) and cannot be stored because the database is
// down is a WARN, not an ERROR: ERROR means a bug.
func TestAuditEventLostToAnOutageIsAWarning(t *testing.T) {
	t.Parallel()
	url, proxy := apitest.PostgresBehindProxy(t)
	logs := &apitest.Log{}
	c := apitest.New(t, apitest.Options{DatabaseURL: url, Log: logs})
	proxy.Cut()
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials("not an email", apitest.WrongPassword)), "UNAUTHENTICATED")
	out := logs.Take()
	require.Contains(t, out, "store audit event", "the lost event is not logged")
	require.NotContains(t, out, "level=ERROR")
}

// Audit events older than the retention go with the hourly prune; younger
// ones stay.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{AuditRetention: 30 * 24 * time.Hour})
	ctx := context.Background()
	old := c.SignUp(t)
	c.Clock.Advance(20 * 24 * time.Hour)
	young := c.SignUp(t)
	c.Clock.Advance(11 * 24 * time.Hour) // the first sign-up is 31 days old
	_, err := c.Accounts.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, c.DB.AuditEvent.Query().Where(auditevent.UserID(uuid.MustParse(old.ID))).CountX(ctx), "an event past the retention was kept")
	require.Equal(t, 1, c.DB.AuditEvent.Query().Where(auditevent.UserID(uuid.MustParse(young.ID))).CountX(ctx), "an event within the retention went")
}
