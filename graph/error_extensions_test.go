package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
)

// TestExpiredTokenSaysRefresh requires an access token that is only too
// old to be UNAUTHENTICATED with reason TOKEN_EXPIRED, on every field that
// needs a caller, and any other refused token to carry no reason, even one
// that is also expired: the reason says nothing about forged tokens.
func TestExpiredTokenSaysRefresh(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	claims := authtest.ClaimsOf(t, u.Token)
	forger := c.Forger()
	c.Clock.Advance(16 * time.Minute) // past 15 minutes and the 30s leeway

	for _, op := range []string{apitest.OpMe, apitest.OpBooks, apitest.OpUsers, apitest.OpNotes} {
		e := apitest.RequireCode(t, c.Do(t, u.Token, op, nil), "UNAUTHENTICATED")
		require.Equal(t, "TOKEN_EXPIRED", e.Extensions["reason"], "%s: %+v", op, e)
	}
	// The client refreshes, and the new token works.
	require.Equal(t, u.ID, c.Me(t, c.Refresh(t, u.RefreshToken).Token).ID)

	// An expired token whose session has ended since is still only
	// TOKEN_EXPIRED: the refresh then fails, and the client signs in.
	s := c.SignIn(t, u.Email, apitest.Password)
	require.True(t, apitest.Data[bool](t, c.Do(t, s.Token, apitest.OpSignOut, nil), "signout"))
	c.Clock.Advance(16 * time.Minute)
	e := apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpMe, nil), "UNAUTHENTICATED")
	require.Equal(t, "TOKEN_EXPIRED", e.Extensions["reason"])
	c.RequireRefreshRefused(t, s.RefreshToken)

	// expired edits alice's claims into ones that expired a minute ago.
	expired := func(edit func(*auth.Claims)) *auth.Claims {
		now := c.Clock.Now()
		return authtest.With(claims, func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-20 * time.Minute))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-5 * time.Minute))
			edit(c)
		})
	}
	live := c.SignIn(t, u.Email, apitest.Password)
	revoked := c.SignIn(t, u.Email, apitest.Password)
	require.NoError(t, c.DB.Session.UpdateOneID(uuid.MustParse(authtest.ClaimsOf(t, revoked.Token).SessionID)).
		SetRevokedAt(c.Clock.Now()).Exec(context.Background()))
	for name, token := range map[string]string{
		"forged, expired":         forger.SignWith(t, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef0123456789"), expired(func(*auth.Claims) {})),
		"alg none, expired":       forger.Unsigned(t, "none", expired(func(*auth.Claims) {})),
		"tampered, expired":       authtest.Tamper(t, forger.Sign(t, expired(func(*auth.Claims) {})), func(p map[string]any) { p["perm"] = apitest.Admin }),
		"wrong audience, expired": forger.Sign(t, expired(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"tampered, live":          authtest.Tamper(t, live.Token, func(p map[string]any) { p["perm"] = apitest.Admin }),
		"revoked session":         revoked.Token,
		"garbage":                 "garbage",
	} {
		t.Run(name, func(t *testing.T) {
			e := apitest.RequireCode(t, c.Do(t, token, apitest.OpMe, nil), "UNAUTHENTICATED")
			require.NotContains(t, e.Extensions, "reason", "%s: %+v", name, e)
		})
	}
}

// TestForbiddenNamesThePermission requires FORBIDDEN from @hasPermission
// to name the permission the field needs, and FORBIDDEN from another rule
// (another user's record) to name none.
func TestForbiddenNamesThePermission(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	free := c.NewUser(t, apitest.Free)
	paid := c.NewUser(t, apitest.Paid)
	for _, tc := range []struct {
		name, token, query string
		vars               apitest.Vars
		want               string
	}{
		{"users needs PAID", free.Token, apitest.OpUsers, nil, "PAID"},
		{"books needs FREE", paid.Token, apitest.OpBooks, nil, "FREE"},
		{"note needs FREE", paid.Token, apitest.OpNote, apitest.Vars{"id": uuid.NewString()}, "FREE"},
		{"createBook needs ADMIN", free.Token, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "t", "author": "a"}}, "ADMIN"},
		{"auditEvents needs ADMIN", paid.Token, apitest.OpAuditEvents, nil, "ADMIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.RequireCode(t, c.Do(t, tc.token, tc.query, tc.vars), "FORBIDDEN")
			require.Equal(t, tc.want, e.Extensions["requiredPermission"], "%+v", e)
		})
	}
	t.Run("another user's record", func(t *testing.T) {
		e := apitest.RequireCode(t, c.Do(t, free.Token, apitest.OpUser, apitest.Vars{"id": paid.ID}), "FORBIDDEN")
		require.NotContains(t, e.Extensions, "requiredPermission")
	})
}
