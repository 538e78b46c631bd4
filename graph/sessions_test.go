package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"bitgate/ent/auditevent"
	"bitgate/ent/user"
	"bitgate/graph"
	"bitgate/internal/apitest"
	"bitgate/internal/app"
	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
)

func TestSignUp(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUpAs(t, "  Ada.Lovelace@Example.COM \t")

	require.Equal(t, "ada.lovelace@example.com", u.Email, "email trimmed and lower-cased in the answer")
	stored, err := c.DB.User.Query().Where(user.Email("ada.lovelace@example.com")).Only(context.Background())
	require.NoError(t, err, "email stored trimmed and lower-cased")
	require.Equal(t, u.ID, stored.ID.String())

	require.Equal(t, 1, u.PermissionLevel)
	require.Equal(t, []string{"FREE"}, u.Permissions)
	require.Equal(t, "Bearer", u.TokenType)
	require.Equal(t, 900, u.ExpiresIn)
	claims := authtest.ClaimsOf(t, u.Token)
	require.Equal(t, int64(900), claims.ExpiresAt.Unix()-claims.IssuedAt.Unix(), "expiresIn matches the token's lifetime")
	require.Equal(t, u.ID, claims.Subject)
	require.Equal(t, u.ID, c.Me(t, u.Token).ID)

	// Signup has no way to pick a level.
	in := apitest.SignUpInput("eve@example.com")
	in["permissionLevel"] = apitest.Admin
	r := c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": in})
	require.NotEmpty(t, r.Errors, "signup accepted permissionLevel: %s", r.Body)
	n, err := c.DB.User.Query().Where(user.Email("eve@example.com")).Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "signup with permissionLevel created a user")
}

func TestSignUpDuplicateEmail(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	c.SignUpAs(t, "dup@example.com")
	for _, email := range []string{"dup@example.com", "DUP@Example.Com", "  dup@example.com  ", "\tDup@EXAMPLE.com\n"} {
		t.Run(email, func(t *testing.T) {
			apitest.RequireCode(t, c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(email)}), "CONFLICT")
		})
	}
	n, err := c.DB.User.Query().Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n, "duplicate signups created users")
}

func TestSignUpValidation(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	bad := []struct {
		name, field string
		value       any
	}{
		{"empty email", "email", ""},
		{"blank email", "email", "   "},
		{"email without at", "email", "grace.example.com"},
		{"email with display name", "email", "Grace <grace@example.com>"},
		{"password of 7 chars", "password", "abcdefg"},
		{"password of 7 two-byte chars", "password", "ДДДДДДД"},
		{"password of 1025 bytes", "password", strings.Repeat("a", 1025)},
		{"password of 1026 bytes in 513 chars", "password", strings.Repeat("é", 513)},
		{"empty password", "password", ""},
		{"empty firstName", "firstName", ""},
		{"blank firstName", "firstName", "  "},
		{"empty lastName", "lastName", ""},
		{"blank lastName", "lastName", " \t"},
		{"NUL in firstName", "firstName", "Nul\u0000Byte"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := apitest.SignUpInput("grace@example.com")
			in[tc.field] = tc.value
			apitest.RequireCode(t, c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": in}), "BAD_USER_INPUT", tc.field)
		})
	}
	n, err := c.DB.User.Query().Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "an invalid signup created a user")

	good := []struct{ name, password string }{
		{"8 two-byte chars", "ДДДДДДДД"},
		{"8 four-byte chars", "🔑🔑🔑🔑🔑🔑🔑🔑"},
		{"exactly 8 ASCII chars", "abcdefgh"},
		{"exactly 1024 bytes", strings.Repeat("b", 1024)},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			in := apitest.SignUpInput(apitest.Email())
			in["password"] = tc.password
			u := apitest.Data[apitest.AuthPayload](t, c.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": in}), "signup")
			require.NotEmpty(t, u.Token)
			require.Equal(t, u.ID, c.SignIn(t, u.Email, tc.password).ID, "signin with the accepted password")
		})
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUpAs(t, "mixed.case@example.com")
	signin := func(t *testing.T, email, password string) *apitest.Response {
		return c.Do(t, "", apitest.OpSignIn, apitest.Credentials(email, password))
	}

	t.Run("good password", func(t *testing.T) {
		got := c.SignIn(t, "mixed.case@example.com", apitest.Password)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, u.ID, c.Me(t, got.Token).ID)
	})
	t.Run("email matched case-insensitively", func(t *testing.T) {
		require.Equal(t, u.ID, c.SignIn(t, "  MIXED.Case@Example.COM ", apitest.Password).ID)
	})

	// Every refusal answers exactly like a wrong password.
	wrong := apitest.RequireCode(t, signin(t, "mixed.case@example.com", apitest.WrongPassword), "UNAUTHENTICATED")
	for _, tc := range []struct{ name, email, password string }{
		{"password in the wrong case", "mixed.case@example.com", strings.ToUpper(apitest.Password)},
		{"unknown email", "nobody@example.com", apitest.Password},
		{"unknown email, wrong password", "nobody@example.com", apitest.WrongPassword},
		{"malformed email", "not-an-email", apitest.Password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.RequireCode(t, signin(t, tc.email, tc.password), "UNAUTHENTICATED")
			require.Equal(t, wrong.Message, e.Message, "message differs from a wrong password's")
			require.Equal(t, wrong.Extensions, e.Extensions, "extensions differ from a wrong password's")
		})
	}
}

func TestSignInUpgradesBcrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := apitest.New(t)
	const password = "legacy bcrypt password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	u, err := c.DB.User.Create().
		SetFirstName("Legacy").SetLastName("User").SetEmail("legacy@example.com").
		SetPasswordHash(string(hash)).SetPermissionLevel(1).
		Save(ctx)
	require.NoError(t, err)
	wrong := apitest.Credentials("legacy@example.com", apitest.WrongPassword)

	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, wrong), "UNAUTHENTICATED")
	require.Equal(t, string(hash), c.DB.User.GetX(ctx, u.ID).PasswordHash, "a failed sign-in changed the hash")

	require.Equal(t, u.ID.String(), c.SignIn(t, "legacy@example.com", password).ID)
	upgraded := c.DB.User.GetX(ctx, u.ID).PasswordHash
	require.True(t, strings.HasPrefix(upgraded, "$argon2id$"), "hash after sign-in is not argon2id: %.12q", upgraded)

	require.Equal(t, u.ID.String(), c.SignIn(t, "legacy@example.com", password).ID, "sign-in after the upgrade")
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, wrong), "UNAUTHENTICATED")
}

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	n := c.Refresh(t, u.RefreshToken)

	require.NotEqual(t, u.RefreshToken, n.RefreshToken, "refresh token not rotated")
	require.NotEqual(t, u.Token, n.Token)
	require.Equal(t, "Bearer", n.TokenType)
	require.Equal(t, 900, n.ExpiresIn)
	require.Equal(t, u.ID, n.ID)
	require.Equal(t, u.ID, c.Me(t, n.Token).ID)
	require.Equal(t, authtest.ClaimsOf(t, u.Token).SessionID, authtest.ClaimsOf(t, n.Token).SessionID, "rotation keeps the session")

	n2 := c.Refresh(t, n.RefreshToken)
	require.Equal(t, u.ID, c.Me(t, n2.Token).ID)
}

func TestRefreshReuseWithinGraceDoesNotRevoke(t *testing.T) {
	t.Parallel()
	c := apitest.New(t) // a grace of 10s
	u := c.SignUp(t)
	n := c.Refresh(t, u.RefreshToken)

	c.RequireRefreshRefused(t, u.RefreshToken)
	c.Clock.Advance(9 * time.Second)
	c.RequireRefreshRefused(t, u.RefreshToken)

	require.Equal(t, u.ID, c.Me(t, n.Token).ID, "new access token revoked by a replay within the grace")
	n2 := c.Refresh(t, n.RefreshToken)
	require.Equal(t, u.ID, c.Me(t, n2.Token).ID)
}

func TestRefreshReuseAfterGraceRevokes(t *testing.T) {
	t.Parallel()
	t.Run("token spent once", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		u := c.SignUp(t)
		other := c.SignIn(t, u.Email, apitest.Password)
		n := c.Refresh(t, u.RefreshToken)
		require.Equal(t, u.ID, c.Me(t, n.Token).ID, "control: new pair works before the replay")
		c.Clock.Advance(11 * time.Second)

		c.RequireRefreshRefused(t, u.RefreshToken)
		c.RequireEnded(t, n)
		apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpMe, nil), "UNAUTHENTICATED")
		// The user's other session is not the stolen one.
		require.Equal(t, u.ID, c.Me(t, other.Token).ID, "replay revoked an unrelated session")
	})
	t.Run("token spent two rotations ago", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		p0 := c.SignUp(t)
		p1 := c.Refresh(t, p0.RefreshToken)
		p2 := c.Refresh(t, p1.RefreshToken)
		require.Equal(t, p0.ID, c.Me(t, p2.Token).ID, "control: newest pair works before the replay")
		c.Clock.Advance(11 * time.Second)

		c.RequireRefreshRefused(t, p0.RefreshToken)
		c.RequireEnded(t, p2)
	})
}

func TestRefreshRejectsBadTokens(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	unknown, _, err := auth.NewRefreshToken()
	require.NoError(t, err)
	for _, tc := range []struct{ name, token string }{
		{"unknown", unknown},
		{"garbage", "not a refresh token"},
		{"empty", ""},
		{"huge", strings.Repeat("A", 10<<10)},
		{"access token", u.Token},
		{"real token with a suffix", u.RefreshToken + "x"},
		{"real token truncated", u.RefreshToken[:len(u.RefreshToken)-1]},
		{"real token upper-cased", strings.ToUpper(u.RefreshToken)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.RequireRefreshRefused(t, tc.token)
		})
	}
	// None of the attempts spent or revoked the real one.
	n := c.Refresh(t, u.RefreshToken)
	require.Equal(t, u.ID, c.Me(t, n.Token).ID)
}

func TestRefreshExpiredSession(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{RefreshTTL: time.Hour})
	u := c.SignUp(t)
	c.Clock.Advance(time.Hour - time.Second)
	u = c.Refresh(t, u.RefreshToken) // rotation does not extend the session
	c.Clock.Advance(2 * time.Second)
	c.RequireRefreshRefused(t, u.RefreshToken)
}

func TestRefreshSignedOutSession(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpSignOut, nil), "signout"))
	c.RequireRefreshRefused(t, u.RefreshToken)
}

// TestRefreshConcurrent sends many refreshes of one token at once, spread
// over instances: exactly one wins, every other answer is UNAUTHENTICATED
// without data, and the losers (within the grace) do not revoke the winner.
func TestRefreshConcurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		instances int
		n         int
	}{{"one instance", 1, 20}, {"two instances", 2, 50}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servers := []*apitest.Client{apitest.New(t)}
			for len(servers) < tc.instances {
				servers = append(servers, servers[0].NewInstance(t))
			}
			u := servers[0].SignUp(t)
			answers := apitest.Concurrently(t, tc.n, func(i int) (*apitest.Response, error) {
				return servers[i%len(servers)].Post("", apitest.OpRefresh, apitest.Vars{"refreshToken": u.RefreshToken})
			})
			var winners []apitest.AuthPayload
			for _, r := range answers {
				if len(r.Errors) == 0 {
					winners = append(winners, apitest.Data[apitest.AuthPayload](t, r, "refresh"))
				} else {
					apitest.RequireCode(t, r, "UNAUTHENTICATED")
				}
			}
			require.Len(t, winners, 1, "want exactly one winning refresh of %d", tc.n)
			for _, c := range servers {
				require.Equal(t, u.ID, c.Me(t, winners[0].Token).ID, "winner's access token")
			}
			require.Equal(t, u.ID, servers[0].Me(t, servers[0].Refresh(t, winners[0].RefreshToken).Token).ID, "winner's refresh token")
		})
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	a := c.SignUp(t)
	b := c.SignIn(t, a.Email, apitest.Password)
	s3 := c.SignIn(t, a.Email, apitest.Password)
	for _, s := range []apitest.AuthPayload{a, b, s3} {
		require.Equal(t, a.ID, c.Me(t, s.Token).ID, "control: session works before signout")
	}

	require.True(t, apitest.Data[bool](t, c.Do(t, a.Token, apitest.OpSignOut, nil), "signout"))
	c.RequireEnded(t, a)
	apitest.RequireCode(t, c.Do(t, a.Token, apitest.OpBooks, nil), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.Do(t, a.Token, apitest.OpSignOut, nil), "UNAUTHENTICATED")

	// Other sessions of the same user live on.
	require.Equal(t, a.ID, c.Me(t, b.Token).ID)
	b2 := c.Refresh(t, b.RefreshToken)
	require.Equal(t, a.ID, c.Me(t, s3.Token).ID)

	require.True(t, apitest.Data[bool](t, c.Do(t, s3.Token, apitest.OpSignOut, apitest.Vars{"all": true}), "signout"))
	c.RequireEnded(t, b2)
	c.RequireEnded(t, s3)
	apitest.RequireCode(t, c.Do(t, b.Token, apitest.OpMe, nil), "UNAUTHENTICATED")

	// A new sign-in after signing out everywhere works.
	require.Equal(t, a.ID, c.Me(t, c.SignIn(t, a.Email, apitest.Password).Token).ID)

	// Signing out needs a caller.
	for _, vars := range []apitest.Vars{nil, {"all": true}} {
		apitest.RequireCode(t, c.Do(t, "", apitest.OpSignOut, vars), "UNAUTHENTICATED")
	}
}

// TestForgedTokens presents every kind of forged or refused token: each is
// UNAUTHENTICATED on a field that needs a caller (never treated as
// anonymous), while a field open to anyone still answers.
func TestForgedTokens(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	a := c.SignUp(t)
	b := c.SignUp(t)
	ca, cb := authtest.ClaimsOf(t, a.Token), authtest.ClaimsOf(t, b.Token)
	forger := c.Forger()
	// asA signs alice's claims changed by edit, as the server signs.
	asA := func(edit func(c *auth.Claims)) string { return forger.Sign(t, authtest.With(ca, edit)) }

	// Control: alice's claims re-signed exactly as the server signs are
	// accepted, so every refusal below is due to the one thing changed.
	require.Equal(t, a.ID, c.Me(t, asA(func(*auth.Claims) {})).ID, "control: re-signed valid claims")
	require.Equal(t, a.ID, c.Me(t, authtest.SignRaw(t, forger.Header("HS256"), ca, jwt.SigningMethodHS256, forger.Key)).ID, "control: the server's header by hand")
	require.Equal(t, a.ID, c.Me(t, authtest.SignRaw(t, map[string]any{"alg": "HS256", "typ": "JWT"}, ca, jwt.SigningMethodHS256, forger.Key)).ID,
		"a token without kid, as releases before kids issued, signed with the current secret")

	now := c.Clock.Now()
	expired := asA(func(c *auth.Claims) {
		c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
		c.ExpiresAt = jwt.NewNumericDate(now.Add(-45 * time.Minute))
	})
	// A signed-in user whose session is then deleted from the database.
	d := c.SignUp(t)
	require.NoError(t, c.DB.Session.DeleteOneID(uuid.MustParse(authtest.ClaimsOf(t, d.Token).SessionID)).Exec(context.Background()))

	cases := []struct{ name, authz string }{
		{"alg none", "Bearer " + forger.Unsigned(t, "none", ca)},
		{"alg NONE", "Bearer " + forger.Unsigned(t, "NONE", ca)},
		{"HS256 with a wrong key", "Bearer " + forger.SignWith(t, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef0123456789"), ca)},
		{"HS384 with the right key", "Bearer " + forger.SignWith(t, jwt.SigningMethodHS384, forger.Key, ca)},
		{"HS512 with the right key", "Bearer " + forger.SignWith(t, jwt.SigningMethodHS512, forger.Key, ca)},
		{"no kid, another secret", "Bearer " + authtest.SignRaw(t, map[string]any{"alg": "HS256", "typ": "JWT"}, ca, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef0123456789"))},
		{"a kid not in the set", "Bearer " + authtest.SignRaw(t, forger.Header("HS256", "kid", auth.HMACKeyID([]byte("another secret"))), ca, jwt.SigningMethodHS256, forger.Key)},
		{"jku header", "Bearer " + authtest.SignRaw(t, forger.Header("HS256", "jku", "https://evil.example/jwks.json"), ca, jwt.SigningMethodHS256, forger.Key)},
		{"payload tampered to ADMIN", "Bearer " + authtest.Tamper(t, a.Token, func(p map[string]any) { p["perm"] = apitest.Admin })},
		{"signature stripped", "Bearer " + authtest.StripSignature(a.Token)},
		{"expired", "Bearer " + expired},
		{"wrong iss", "Bearer " + asA(func(c *auth.Claims) { c.Issuer = "evil" })},
		{"no iss", "Bearer " + asA(func(c *auth.Claims) { c.Issuer = "" })},
		{"wrong aud", "Bearer " + asA(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-api"} })},
		{"no aud", "Bearer " + asA(func(c *auth.Claims) { c.Audience = nil })},
		{"no exp", "Bearer " + asA(func(c *auth.Claims) { c.ExpiresAt = nil })},
		{"sid of another user's session", "Bearer " + asA(func(c *auth.Claims) { c.SessionID = cb.SessionID })},
		{"sub of another user with own sid", "Bearer " + asA(func(c *auth.Claims) { c.Subject = cb.Subject })},
		{"random sid", "Bearer " + asA(func(c *auth.Claims) { c.SessionID = uuid.NewString() })},
		{"session deleted", "Bearer " + d.Token},
		{"Bearer with empty token", "Bearer "},
		{"Bearer alone", "Bearer"},
		{"Basic scheme", "Basic xyz"},
		{"Basic scheme with a valid token", "Basic " + a.Token},
		{"token without scheme", a.Token},
		{"garbage", "Bearer garbage"},
		{"three dots of garbage", "Bearer a.b.c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := apitest.Header("Authorization", tc.authz)
			apitest.RequireCode(t, c.DoWithHeader(t, h, apitest.OpMe, nil), "UNAUTHENTICATED")
			// A field that needs PAID: refused as UNAUTHENTICATED, not as
			// an anonymous or FREE caller.
			apitest.RequireCode(t, c.DoWithHeader(t, h, apitest.OpUsers, nil), "UNAUTHENTICATED")
			// A field that needs no caller still answers.
			book := apitest.Data[*apitest.Book](t, c.DoWithHeader(t, h, apitest.OpBook, apitest.Vars{"id": uuid.NewString()}), "book")
			require.Nil(t, book, "book(id:) on a bad token")
		})
	}
}

// TestTokenExpiry lets an access token expire on the server's clock: it
// works until its expiry (plus the 30s leeway) and not after, while its
// refresh token still rotates.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	c.Clock.Advance(15*time.Minute + 20*time.Second)
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "token refused within the leeway")
	c.Clock.Advance(20 * time.Second)
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpMe, nil), "UNAUTHENTICATED")
	require.Equal(t, u.ID, c.Me(t, c.Refresh(t, u.RefreshToken).Token).ID)
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	const newPassword = "a brand new passphrase"
	self := c.SignUp(t)
	other := c.SignIn(t, self.Email, apitest.Password)
	change := func(t *testing.T, in apitest.Vars) *apitest.Response {
		t.Helper()
		return c.Do(t, self.Token, apitest.OpUpdateUser, apitest.Vars{"id": self.ID, "in": in})
	}
	requireUnchanged := func(t *testing.T) {
		t.Helper()
		require.Equal(t, self.ID, c.SignIn(t, self.Email, apitest.Password).ID, "old password no longer signs in")
		apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(self.Email, newPassword)), "UNAUTHENTICATED")
		require.Equal(t, self.ID, c.Me(t, self.Token).ID)
		require.Equal(t, self.ID, c.Me(t, other.Token).ID)
	}

	t.Run("missing currentPassword", func(t *testing.T) {
		apitest.RequireCode(t, change(t, apitest.Vars{"password": newPassword}), "BAD_USER_INPUT", "currentPassword")
		requireUnchanged(t)
	})
	t.Run("wrong currentPassword", func(t *testing.T) {
		apitest.RequireCode(t, change(t, apitest.Vars{"password": newPassword, "currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
		requireUnchanged(t)
	})
	t.Run("right currentPassword", func(t *testing.T) {
		got := apitest.Data[apitest.User](t, change(t, apitest.Vars{"password": newPassword, "currentPassword": apitest.Password}), "updateUser")
		require.Equal(t, self.ID, got.ID)

		require.Equal(t, self.ID, c.Me(t, self.Token).ID, "the changing session was ended")
		c.RequireEnded(t, other)
		require.Equal(t, self.ID, c.Me(t, c.Refresh(t, self.RefreshToken).Token).ID)

		apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(self.Email, apitest.Password)), "UNAUTHENTICATED")
		require.Equal(t, self.ID, c.SignIn(t, self.Email, newPassword).ID)
	})
}

// TestListSessions lists the caller's live sessions: one per sign-in, the
// most recently used first, the current one marked, with the user agent
// and address of their last sign-in or refresh; ended and expired ones are
// left out.
func TestListSessions(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{RefreshTTL: time.Hour})
	phone := c.SignUp(t)
	c.Clock.Advance(time.Minute)
	laptop := apitest.Data[apitest.AuthPayload](t, c.DoWithHeader(t, apitest.Header("User-Agent", "Laptop/1.0"),
		apitest.OpSignIn, apitest.Credentials(phone.Email, apitest.Password)), "signin")
	c.Clock.Advance(time.Minute)
	ended := c.SignIn(t, phone.Email, apitest.Password)
	require.True(t, apitest.Data[bool](t, c.Do(t, ended.Token, apitest.OpSignOut, nil), "signout"))
	other := c.SignUp(t) // another user's sessions are not listed

	list := c.Sessions(t, laptop.Token)
	require.Len(t, list, 2, "live sessions: %+v", list)
	require.Equal(t, apitest.SessionID(t, laptop), list[0].ID, "most recently used first")
	require.True(t, list[0].Current)
	require.Equal(t, "Laptop/1.0", list[0].UserAgent)
	require.Equal(t, "127.0.0.1", list[0].ClientIP)
	require.WithinDuration(t, c.Clock.Now().Add(-time.Minute), list[0].CreatedAt, time.Second)
	require.Equal(t, list[0].CreatedAt, list[0].LastUsedAt, "last used at sign-in")
	require.Equal(t, list[0].CreatedAt.Add(time.Hour), list[0].ExpiresAt)
	require.Equal(t, apitest.SessionID(t, phone), list[1].ID)
	require.False(t, list[1].Current)
	require.Equal(t, "Go-http-client/1.1", list[1].UserAgent)

	// A refresh makes the phone's session the most recently used, and
	// records where it came from.
	c.Clock.Advance(time.Minute)
	h := apitest.Header("User-Agent", "Phone/2.0")
	phone = apitest.Data[apitest.AuthPayload](t, c.DoWithHeader(t, h, apitest.OpRefresh, apitest.Vars{"refreshToken": phone.RefreshToken}), "refresh")
	list = c.Sessions(t, phone.Token)
	require.Len(t, list, 2)
	require.Equal(t, apitest.SessionID(t, phone), list[0].ID)
	require.True(t, list[0].Current)
	require.Equal(t, "Phone/2.0", list[0].UserAgent)
	require.WithinDuration(t, c.Clock.Now(), list[0].LastUsedAt, time.Second)
	require.True(t, list[0].LastUsedAt.After(list[0].CreatedAt))
	require.Equal(t, list[0].CreatedAt.Add(time.Hour), list[0].ExpiresAt, "a refresh does not extend the session")
	require.False(t, list[1].Current)

	require.Len(t, c.Sessions(t, other.Token), 1, "the other user sees their own session only")

	// The phone's session ends an hour after its sign-up; the laptop's,
	// begun a minute later, is still live.
	c.Clock.Advance(57*time.Minute + 30*time.Second)
	laptop = c.Refresh(t, laptop.RefreshToken)
	list = c.Sessions(t, laptop.Token)
	require.Len(t, list, 1, "an expired session is not live: %+v", list)
	require.Equal(t, apitest.SessionID(t, laptop), list[0].ID)

	apitest.RequireCode(t, c.Do(t, "", apitest.OpSessions, nil), "UNAUTHENTICATED")
}

// TestRevokeSession ends one of the caller's other sessions: its access
// and refresh tokens stop working at once, the caller's own keeps working,
// and the revocation is audited.
func TestRevokeSession(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	lost := c.SignUp(t)
	here := c.SignIn(t, lost.Email, apitest.Password)
	require.Equal(t, lost.ID, c.Me(t, lost.Token).ID, "control: the lost session works")

	require.True(t, apitest.Data[bool](t, c.Do(t, here.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, lost)}), "revokeSession"))
	c.RequireEnded(t, lost)
	require.Equal(t, lost.ID, c.Me(t, here.Token).ID, "the caller's own session lives on")
	require.Len(t, c.Sessions(t, here.Token), 1)
	c.Refresh(t, here.RefreshToken)

	events := apitest.Data[apitest.Connection[apitest.AuditEvent]](t, c.Do(t, admin.Token, apitest.OpAuditEvents, apitest.Vars{"last": 1}), "auditEvents").Nodes()
	require.Len(t, events, 1)
	require.Equal(t, "session.revoked", events[0].Action)
	require.Equal(t, lost.ID, *events[0].UserID)
	require.Nil(t, events[0].ActorID, "revoked by the user themself")
	require.Equal(t, "session "+apitest.SessionID(t, lost), events[0].Detail)

	// Revoking it again: it is no longer live.
	apitest.RequireCode(t, c.Do(t, here.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, lost)}), "NOT_FOUND")
	apitest.RequireCode(t, c.Do(t, "", apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, here)}), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.Do(t, here.Token, apitest.OpRevokeSession, apitest.Vars{"id": "not-a-uuid"}), "BAD_USER_INPUT", "id")
}

// TestRevokeCurrentSession ends the session of the request itself: as
// signout does, both of its tokens stop working, and it is audited as a
// signout.
func TestRevokeCurrentSession(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	other := c.SignIn(t, u.Email, apitest.Password)
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, u)}), "revokeSession"))
	c.RequireEnded(t, u)
	require.Equal(t, u.ID, c.Me(t, other.Token).ID)
	last, err := c.DB.AuditEvent.Query().Order(auditevent.ByCreatedAt(), auditevent.ByID()).All(context.Background())
	require.NoError(t, err)
	require.Equal(t, "signout", last[len(last)-1].Action)
}

// TestRevokeSessionNotFound tries another user's session, a missing one
// and a revoked one: each is NOT_FOUND with the same message, and the
// other user's session keeps working.
func TestRevokeSessionNotFound(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	me := c.NewUser(t, apitest.Free|apitest.Paid)
	victim := c.SignUp(t)
	signedOut := c.SignUp(t)
	require.True(t, apitest.Data[bool](t, c.Do(t, signedOut.Token, apitest.OpSignOut, nil), "signout"))

	var messages []string
	for _, id := range []string{apitest.SessionID(t, victim), uuid.NewString(), apitest.SessionID(t, signedOut)} {
		e := apitest.RequireCode(t, c.Do(t, me.Token, apitest.OpRevokeSession, apitest.Vars{"id": id}), "NOT_FOUND")
		messages = append(messages, e.Message)
	}
	require.Equal(t, []string{messages[0], messages[0], messages[0]}, messages, "another user's session answers as a missing one")
	require.Equal(t, victim.ID, c.Me(t, victim.Token).ID, "the victim's session lives on")
	c.Refresh(t, victim.RefreshToken)

	// Nor may a non-admin list another user's sessions.
	apitest.RequireCode(t, c.Do(t, me.Token, apitest.OpUserSessions, apitest.Vars{"id": victim.ID}), "FORBIDDEN")
	own := apitest.Data[struct{ Sessions []apitest.Session }](t, c.Do(t, me.Token, apitest.OpUserSessions, apitest.Vars{"id": me.ID}), "user")
	require.Len(t, own.Sessions, 1, "a user sees their own sessions through User.sessions")
}

// TestAdminSessions lets an ADMIN see any user's sessions and end one of
// them: its tokens stop working at once, and the audit names the admin.
func TestAdminSessions(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	u := c.SignUp(t)
	second := c.SignIn(t, u.Email, apitest.Password)

	seen := apitest.Data[struct{ Sessions []apitest.Session }](t, c.Do(t, admin.Token, apitest.OpUserSessions, apitest.Vars{"id": u.ID}), "user")
	require.Len(t, seen.Sessions, 2)
	for _, s := range seen.Sessions {
		require.False(t, s.Current, "none of them is the admin's")
	}

	require.True(t, apitest.Data[bool](t, c.Do(t, admin.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, second)}), "revokeSession"))
	c.RequireEnded(t, second)
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "the user's other session lives on")
	require.Equal(t, admin.ID, c.Me(t, admin.Token).ID, "the admin's own session lives on")

	ev, err := c.DB.AuditEvent.Query().Where(auditevent.Action("session.revoked")).Only(context.Background())
	require.NoError(t, err)
	require.Equal(t, u.ID, ev.UserID.String())
	require.Equal(t, admin.ID, ev.ActorID.String())

	apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpRevokeSession, apitest.Vars{"id": uuid.NewString()}), "NOT_FOUND")
}

// TestSessionsPerUserAreCapped signs a user in past the cap on live
// sessions: each sign-in past it ends the least recently used session (its
// tokens stop working at once), audited as session.evicted, and the user
// keeps exactly the cap, the newest included.
func TestSessionsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Accounts.MaxSessions = 3 }})
	first := c.SignUp(t)
	c.Clock.Advance(time.Minute)
	second := c.SignIn(t, first.Email, apitest.Password)
	c.Clock.Advance(time.Minute)
	third := c.SignIn(t, first.Email, apitest.Password)
	c.Clock.Advance(time.Minute)
	first = c.Refresh(t, first.RefreshToken) // used last: kept
	c.Clock.Advance(time.Minute)

	fourth := c.SignIn(t, first.Email, apitest.Password)
	c.RequireEnded(t, second)
	ids := func(list []apitest.Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []string{apitest.SessionID(t, fourth), apitest.SessionID(t, first), apitest.SessionID(t, third)},
		ids(c.Sessions(t, fourth.Token)), "the least recently used session lives on")
	ev, err := c.DB.AuditEvent.Query().Where(auditevent.Action("session.evicted")).Only(context.Background())
	require.NoError(t, err)
	require.Equal(t, first.ID, ev.UserID.String())
	require.Contains(t, ev.Detail, apitest.SessionID(t, second))

	c.Clock.Advance(time.Minute)
	fifth := c.SignIn(t, first.Email, apitest.Password)
	c.RequireEnded(t, third)
	require.Equal(t, []string{apitest.SessionID(t, fifth), apitest.SessionID(t, fourth), apitest.SessionID(t, first)},
		ids(c.Sessions(t, first.Token)))
	c.Refresh(t, first.RefreshToken)
}

// TestSessionListsCostPerSession requires sessions and User.sessions,
// lists without pages, to cost as many sessions as a user may have: a few
// aliases of either pass a complexity limit that many would not.
func TestSessionListsCostPerSession(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Limits: graph.Limits{MaxComplexity: 100}, Config: func(c *app.Config) { c.Accounts.MaxSessions = 30 }})
	u := c.SignUp(t)
	for _, field := range []string{"sessions { id }", "me { sessions { id } }"} {
		aliases := func(n int) string {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, " a%d: %s", i, field)
			}
			return "{" + b.String() + " }"
		}
		require.Empty(t, c.Do(t, u.Token, aliases(2), nil).Errors, "%s twice", field)
		apitest.RequireCode(t, c.Do(t, u.Token, aliases(4), nil), "COMPLEXITY_LIMIT_EXCEEDED")
	}
}
