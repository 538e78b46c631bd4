package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"bitgate/auth"
	"bitgate/ent/user"
	"bitgate/internal/apitest"
)

// Queries and mutations of the authentication tests.
const (
	authMeQuery      = `{ me { id permissionLevel } }`
	authUsersQuery   = `{ users { totalCount } }`
	authBooksQuery   = `{ books { totalCount } }`
	authBookQuery    = `query($id: ID!) { book(id: $id) { id } }`
	authSignupMut    = `mutation($in: SignupInput!) { signup(input: $in) { ` + apitest.PayloadFields + ` } }`
	authSigninMut    = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { ` + apitest.PayloadFields + ` } }`
	authRefreshMut   = `mutation($t: String!) { refresh(refreshToken: $t) { ` + apitest.PayloadFields + ` } }`
	authSignoutMut   = `mutation($all: Boolean) { signout(allSessions: $all) }`
	authUpdateMut    = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id } }`
	authDeleteMut    = `mutation($id: ID!) { deleteUser(id: $id) }`
	authNewPassword  = "a brand new passphrase"
	authWrongPasswd  = "not the password at all"
	authGraceForTest = 200 * time.Millisecond
)

// authGQL posts a GraphQL operation with a raw Authorization header value
// (none if authz is empty).
func authGQL(t testing.TB, s *apitest.Server, authz, query string, vars map[string]any) *apitest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {"application/json"}}
	if authz != "" {
		h.Set("Authorization", authz)
	}
	return s.Raw(t, http.MethodPost, "/graphql", h, body)
}

// authRequireCode checks that r failed, every error with code, and that
// none of the given root fields carries data.
func authRequireCode(t testing.TB, r *apitest.Response, code string, fields ...string) {
	t.Helper()
	require.NotEmpty(t, r.Errors, "want %s, got no error: %s", code, r.Body)
	for _, e := range r.Errors {
		require.Equal(t, code, e.Extensions["code"], "error code in %s", r.Body)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return
	}
	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Data, &data), "decode data %s", r.Data)
	for _, f := range fields {
		if v, ok := data[f]; ok {
			require.Equal(t, "null", string(v), "field %s answered data despite %s: %s", f, code, r.Body)
		}
	}
}

// authMe asks me with token, requires success and returns the caller.
func authMe(t testing.TB, s *apitest.Server, token string) apitest.User {
	t.Helper()
	var out struct{ Me apitest.User }
	s.Query(t, token, authMeQuery, nil).Decode(t, &out)
	require.NotEmpty(t, out.Me.ID, "me without id")
	return out.Me
}

// authRequireRefused requires that token is refused on me, with no data.
func authRequireRefused(t testing.TB, s *apitest.Server, token string) {
	t.Helper()
	authRequireCode(t, s.Query(t, token, authMeQuery, nil), "UNAUTHENTICATED", "me")
}

// authRefresh posts refresh with a refresh token.
func authRefresh(t testing.TB, s *apitest.Server, refreshToken string) *apitest.Response {
	t.Helper()
	return s.Query(t, "", authRefreshMut, map[string]any{"t": refreshToken})
}

// authMustRefresh refreshes and requires a new pair.
func authMustRefresh(t testing.TB, s *apitest.Server, refreshToken string) apitest.Payload {
	t.Helper()
	var out struct{ Refresh apitest.Payload }
	authRefresh(t, s, refreshToken).Decode(t, &out)
	require.NotEmpty(t, out.Refresh.AccessToken)
	require.NotEmpty(t, out.Refresh.RefreshToken)
	return out.Refresh
}

// authRequireRefreshRefused requires that refreshToken no longer rotates.
func authRequireRefreshRefused(t testing.TB, s *apitest.Server, refreshToken string) {
	t.Helper()
	authRequireCode(t, authRefresh(t, s, refreshToken), "UNAUTHENTICATED", "refresh")
}

// authSignin posts signin and returns the raw response.
func authSignin(t testing.TB, s *apitest.Server, email, password string) *apitest.Response {
	t.Helper()
	return s.Query(t, "", authSigninMut, map[string]any{"e": email, "p": password})
}

// authClaims reads the claims of a token without verifying it.
func authClaims(t testing.TB, token string) *auth.Claims {
	t.Helper()
	c := &auth.Claims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, c)
	require.NoError(t, err, "parse token %q", token)
	return c
}

// authSign signs claims with method and key.
func authSign(t testing.TB, method jwt.SigningMethod, claims *auth.Claims, key []byte) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err, "sign %s token", method.Alg())
	return tok
}

// authSegment base64url-encodes a JSON value as a JWT segment.
func authSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestAuthSignupPayload(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "  Ada.Lovelace@Example.COM \t")

	require.Equal(t, "ada.lovelace@example.com", p.User.Email, "email trimmed and lower-cased in the answer")
	stored, err := s.Client.User.Query().Where(user.Email("ada.lovelace@example.com")).Only(context.Background())
	require.NoError(t, err, "email stored trimmed and lower-cased")
	require.Equal(t, p.User.ID, stored.ID.String())

	require.Equal(t, 1, p.User.PermissionLevel)
	require.Equal(t, []string{"FREE"}, p.User.Permissions)
	require.Equal(t, "Bearer", p.TokenType)
	require.Equal(t, 900, p.ExpiresIn)
	c := authClaims(t, p.AccessToken)
	require.Equal(t, int64(900), c.ExpiresAt.Unix()-c.IssuedAt.Unix(), "expiresIn matches the token's lifetime")
	require.Equal(t, p.User.ID, c.Subject)
	require.Equal(t, p.User.ID, authMe(t, s, p.AccessToken).ID)

	// Signup has no way to pick a level.
	r := s.Query(t, "", authSignupMut, map[string]any{"in": map[string]any{
		"firstName": "Eve", "lastName": "Root", "email": "eve@example.com", "password": apitest.Password, "permissionLevel": 2048,
	}})
	require.NotEmpty(t, r.Errors, "signup accepted permissionLevel: %s", r.Body)
	n, err := s.Client.User.Query().Where(user.Email("eve@example.com")).Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "signup with permissionLevel created a user")
}

func TestAuthSignupDuplicateEmail(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	s.Signup(t, "dup@example.com")
	for _, email := range []string{"dup@example.com", "DUP@Example.Com", "  dup@example.com  ", "\tDup@EXAMPLE.com\n"} {
		t.Run(email, func(t *testing.T) {
			r := s.Query(t, "", authSignupMut, map[string]any{"in": map[string]any{
				"firstName": "Second", "lastName": "Account", "email": email, "password": apitest.Password,
			}})
			authRequireCode(t, r, "CONFLICT", "signup")
		})
	}
	n, err := s.Client.User.Query().Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n, "duplicate signups created users")
}

func TestAuthSignupValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	valid := func() map[string]any {
		return map[string]any{"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "password": apitest.Password}
	}
	bad := []struct {
		name, field string
		value       any
		wantField   string
	}{
		{"empty email", "email", "", "email"},
		{"blank email", "email", "   ", "email"},
		{"email without at", "email", "grace.example.com", "email"},
		{"email with display name", "email", "Grace <grace@example.com>", "email"},
		{"password of 7 chars", "password", "abcdefg", "password"},
		{"password of 7 two-byte chars", "password", "ДДДДДДД", "password"},
		{"password of 1025 bytes", "password", strings.Repeat("a", 1025), "password"},
		{"password of 1026 bytes in 513 chars", "password", strings.Repeat("é", 513), "password"},
		{"empty password", "password", "", "password"},
		{"empty firstName", "firstName", "", "firstName"},
		{"blank firstName", "firstName", "  ", "firstName"},
		{"empty lastName", "lastName", "", "lastName"},
		{"blank lastName", "lastName", " \t", "lastName"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			in[tc.field] = tc.value
			r := s.Query(t, "", authSignupMut, map[string]any{"in": in})
			authRequireCode(t, r, "BAD_USER_INPUT", "signup")
			require.Equal(t, tc.wantField, r.Errors[0].Extensions["field"], "extensions.field in %s", r.Body)
		})
	}
	n, err := s.Client.User.Query().Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "an invalid signup created a user")

	good := []struct{ name, password string }{
		{"8 two-byte chars", "ДДДДДДДД"},
		{"8 four-byte chars", "🔑🔑🔑🔑🔑🔑🔑🔑"},
		{"exactly 8 ASCII chars", "abcdefgh"},
		{"exactly 1024 bytes", strings.Repeat("b", 1024)},
	}
	for i, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			in["email"] = "ok" + string(rune('a'+i)) + "@example.com"
			in["password"] = tc.password
			var out struct{ Signup apitest.Payload }
			s.Query(t, "", authSignupMut, map[string]any{"in": in}).Decode(t, &out)
			require.NotEmpty(t, out.Signup.AccessToken)
			var again struct{ Signin apitest.Payload }
			authSignin(t, s, in["email"].(string), tc.password).Decode(t, &again)
			require.Equal(t, out.Signup.User.ID, again.Signin.User.ID, "signin with the accepted password")
		})
	}
}

func TestAuthSigninCredentials(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "mixed.case@example.com")

	t.Run("good password", func(t *testing.T) {
		got := s.Signin(t, "mixed.case@example.com", apitest.Password)
		require.Equal(t, p.User.ID, got.User.ID)
		require.Equal(t, p.User.ID, authMe(t, s, got.AccessToken).ID)
	})
	t.Run("email matched case-insensitively", func(t *testing.T) {
		got := s.Signin(t, "  MIXED.Case@Example.COM ", apitest.Password)
		require.Equal(t, p.User.ID, got.User.ID)
	})

	wrong := authSignin(t, s, "mixed.case@example.com", authWrongPasswd)
	authRequireCode(t, wrong, "UNAUTHENTICATED", "signin")
	for _, tc := range []struct{ name, email, password string }{
		{"password in the wrong case", "mixed.case@example.com", strings.ToUpper(apitest.Password)},
		{"unknown email", "nobody@example.com", apitest.Password},
		{"unknown email, wrong password", "nobody@example.com", authWrongPasswd},
		{"malformed email", "not-an-email", apitest.Password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := authSignin(t, s, tc.email, tc.password)
			authRequireCode(t, r, "UNAUTHENTICATED", "signin")
			require.Equal(t, wrong.Errors[0].Message, r.Errors[0].Message, "message differs from a wrong password's")
			require.Equal(t, wrong.Errors[0].Extensions, r.Errors[0].Extensions, "extensions differ from a wrong password's")
		})
	}
}

func TestAuthSigninUpgradesBcrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := apitest.New(t, apitest.Options{})
	const password = "legacy bcrypt password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	u, err := s.Client.User.Create().
		SetFirstName("Legacy").SetLastName("User").SetEmail("legacy@example.com").
		SetPasswordHash(string(hash)).SetPermissionLevel(1).
		Save(ctx)
	require.NoError(t, err)

	authRequireCode(t, authSignin(t, s, "legacy@example.com", authWrongPasswd), "UNAUTHENTICATED", "signin")
	got, err := s.Client.User.Get(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, string(hash), got.PasswordHash, "a failed sign-in changed the hash")

	p := s.Signin(t, "legacy@example.com", password)
	require.Equal(t, u.ID.String(), p.User.ID)
	got, err = s.Client.User.Get(ctx, u.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got.PasswordHash, "$argon2id$"), "hash after sign-in is not argon2id: %.12q", got.PasswordHash)

	p2 := s.Signin(t, "legacy@example.com", password)
	require.Equal(t, u.ID.String(), p2.User.ID, "sign-in after the upgrade")
	authRequireCode(t, authSignin(t, s, "legacy@example.com", authWrongPasswd), "UNAUTHENTICATED", "signin")
}

func TestAuthRefreshRotates(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "rotate@example.com")
	n := authMustRefresh(t, s, p.RefreshToken)

	require.NotEqual(t, p.RefreshToken, n.RefreshToken, "refresh token not rotated")
	require.NotEqual(t, p.AccessToken, n.AccessToken)
	require.Equal(t, "Bearer", n.TokenType)
	require.Equal(t, 900, n.ExpiresIn)
	require.Equal(t, p.User.ID, n.User.ID)
	require.Equal(t, p.User.ID, authMe(t, s, n.AccessToken).ID)
	require.Equal(t, authClaims(t, p.AccessToken).SessionID, authClaims(t, n.AccessToken).SessionID, "rotation keeps the session")

	n2 := authMustRefresh(t, s, n.RefreshToken)
	require.Equal(t, p.User.ID, authMe(t, s, n2.AccessToken).ID)
}

func TestAuthRefreshReuseWithinGraceDoesNotRevoke(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{}) // 10s grace: the replay is surely within it
	p := s.Signup(t, "grace@example.com")
	n := authMustRefresh(t, s, p.RefreshToken)

	authRequireRefreshRefused(t, s, p.RefreshToken)
	authRequireRefreshRefused(t, s, p.RefreshToken)

	require.Equal(t, p.User.ID, authMe(t, s, n.AccessToken).ID, "new access token revoked by a replay within the grace")
	n2 := authMustRefresh(t, s, n.RefreshToken)
	require.Equal(t, p.User.ID, authMe(t, s, n2.AccessToken).ID)
}

func TestAuthRefreshReuseAfterGraceRevokes(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{ReuseGrace: authGraceForTest})

	t.Run("token spent once", func(t *testing.T) {
		t.Parallel()
		p := s.Signup(t, "thief1@example.com")
		other := s.Signin(t, "thief1@example.com", apitest.Password)
		n := authMustRefresh(t, s, p.RefreshToken)
		require.Equal(t, p.User.ID, authMe(t, s, n.AccessToken).ID, "control: new pair works before the replay")
		time.Sleep(authGraceForTest + 80*time.Millisecond)

		authRequireRefreshRefused(t, s, p.RefreshToken)
		authRequireRefused(t, s, n.AccessToken)
		authRequireRefused(t, s, p.AccessToken)
		authRequireRefreshRefused(t, s, n.RefreshToken)
		// The user's other session is not the stolen one.
		require.Equal(t, p.User.ID, authMe(t, s, other.AccessToken).ID, "replay revoked an unrelated session")
	})
	t.Run("token spent two rotations ago", func(t *testing.T) {
		t.Parallel()
		p0 := s.Signup(t, "thief2@example.com")
		p1 := authMustRefresh(t, s, p0.RefreshToken)
		p2 := authMustRefresh(t, s, p1.RefreshToken)
		require.Equal(t, p0.User.ID, authMe(t, s, p2.AccessToken).ID, "control: newest pair works before the replay")
		time.Sleep(authGraceForTest + 80*time.Millisecond)

		authRequireRefreshRefused(t, s, p0.RefreshToken)
		authRequireRefused(t, s, p2.AccessToken)
		authRequireRefreshRefused(t, s, p2.RefreshToken)
	})
}

func TestAuthRefreshRejectsBadTokens(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "badrefresh@example.com")
	unknown, _, err := auth.NewRefreshToken()
	require.NoError(t, err)
	for _, tc := range []struct{ name, token string }{
		{"unknown", unknown},
		{"garbage", "not a refresh token"},
		{"empty", ""},
		{"huge", strings.Repeat("A", 10<<10)},
		{"access token", p.AccessToken},
		{"real token with a suffix", p.RefreshToken + "x"},
		{"real token truncated", p.RefreshToken[:len(p.RefreshToken)-1]},
		{"real token upper-cased", strings.ToUpper(p.RefreshToken)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authRequireRefreshRefused(t, s, tc.token)
		})
	}
	// None of the attempts spent or revoked the real one.
	n := authMustRefresh(t, s, p.RefreshToken)
	require.Equal(t, p.User.ID, authMe(t, s, n.AccessToken).ID)
}

func TestAuthRefreshExpiredSession(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{RefreshTTL: 100 * time.Millisecond})
	p := s.Signup(t, "expired@example.com")
	time.Sleep(150 * time.Millisecond)
	authRequireRefreshRefused(t, s, p.RefreshToken)
}

func TestAuthRefreshSignedOutSession(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "signedout@example.com")
	var out struct{ Signout bool }
	s.Query(t, p.AccessToken, authSignoutMut, nil).Decode(t, &out)
	require.True(t, out.Signout)
	authRequireRefreshRefused(t, s, p.RefreshToken)
}

// authRaceRefresh sends n refreshes of one token at once, spread over
// servers, and requires exactly one winner, every other answer
// UNAUTHENTICATED without data. It returns the winner's pair.
func authRaceRefresh(t testing.TB, servers []*apitest.Server, token string, n int) apitest.Payload {
	t.Helper()
	results, errs := apitest.Concurrently(n, func(i int) (*apitest.Response, error) {
		return servers[i%len(servers)].Post("", authRefreshMut, map[string]any{"t": token})
	})

	var winners []apitest.Payload
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		r.Check(t)
		var data struct{ Refresh *apitest.Payload }
		require.NoError(t, json.Unmarshal(r.Data, &data), "request %d: %s", i, r.Body)
		if len(r.Errors) == 0 {
			require.NotNil(t, data.Refresh, "request %d: %s", i, r.Body)
			winners = append(winners, *data.Refresh)
			continue
		}
		require.Nil(t, data.Refresh, "request %d: data with errors: %s", i, r.Body)
		require.Equal(t, "UNAUTHENTICATED", r.Code(), "request %d: %s", i, r.Body)
	}
	require.Len(t, winners, 1, "want exactly one winning refresh of %d", n)
	return winners[0]
}

func TestAuthRefreshConcurrent(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{}) // 10s grace: losers must not revoke the winner
	p := s.Signup(t, "race@example.com")

	w := authRaceRefresh(t, []*apitest.Server{s}, p.RefreshToken, 20)
	require.Equal(t, p.User.ID, authMe(t, s, w.AccessToken).ID, "winner's access token")
	n2 := authMustRefresh(t, s, w.RefreshToken)
	require.Equal(t, p.User.ID, authMe(t, s, n2.AccessToken).ID, "winner's refresh token")
}

func TestAuthSignout(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	const email = "signout@example.com"
	a := s.Signup(t, email)
	b := s.Signin(t, email, apitest.Password)
	c := s.Signin(t, email, apitest.Password)
	for _, p := range []apitest.Payload{a, b, c} {
		require.Equal(t, a.User.ID, authMe(t, s, p.AccessToken).ID, "control: session works before signout")
	}

	var out struct{ Signout bool }
	s.Query(t, a.AccessToken, authSignoutMut, nil).Decode(t, &out)
	require.True(t, out.Signout)
	authRequireRefused(t, s, a.AccessToken)
	authRequireCode(t, s.Query(t, a.AccessToken, authBooksQuery, nil), "UNAUTHENTICATED", "books")
	authRequireCode(t, s.Query(t, a.AccessToken, authSignoutMut, nil), "UNAUTHENTICATED", "signout")
	authRequireRefreshRefused(t, s, a.RefreshToken)

	// Other sessions of the same user live on.
	require.Equal(t, a.User.ID, authMe(t, s, b.AccessToken).ID)
	b2 := authMustRefresh(t, s, b.RefreshToken)
	require.Equal(t, a.User.ID, authMe(t, s, c.AccessToken).ID)

	s.Query(t, c.AccessToken, authSignoutMut, map[string]any{"all": true}).Decode(t, &out)
	require.True(t, out.Signout)
	for name, p := range map[string]apitest.Payload{"b rotated": b2, "c": c} {
		t.Run(name, func(t *testing.T) {
			authRequireRefused(t, s, p.AccessToken)
			authRequireRefreshRefused(t, s, p.RefreshToken)
		})
	}
	authRequireRefused(t, s, b.AccessToken)

	// A new sign-in after signing out everywhere works.
	d := s.Signin(t, email, apitest.Password)
	require.Equal(t, a.User.ID, authMe(t, s, d.AccessToken).ID)
}

func TestAuthSignoutAnonymous(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	for _, vars := range []map[string]any{nil, {"all": true}} {
		authRequireCode(t, s.Query(t, "", authSignoutMut, vars), "UNAUTHENTICATED", "signout")
	}
}

func TestAuthForgedTokens(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	a := s.Signup(t, "alice@example.com")
	b := s.Signup(t, "bob@example.com")
	ca, cb := authClaims(t, a.AccessToken), authClaims(t, b.AccessToken)

	// withA returns a copy of alice's claims changed by f.
	withA := func(f func(c *auth.Claims)) *auth.Claims {
		c := *ca
		c.Audience = append(jwt.ClaimStrings(nil), ca.Audience...)
		f(&c)
		return &c
	}

	// Control: alice's claims re-signed exactly as the server signs are
	// accepted, so every refusal below is due to the one thing changed.
	resigned := authSign(t, jwt.SigningMethodHS256, withA(func(*auth.Claims) {}), apitest.Secret)
	require.Equal(t, a.User.ID, authMe(t, s, resigned).ID, "control: re-signed valid claims")

	parts := strings.Split(a.AccessToken, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var raised map[string]any
	require.NoError(t, json.Unmarshal(payload, &raised))
	raised["perm"] = 2048
	tampered := parts[0] + "." + authSegment(t, raised) + "." + parts[2]

	none := authSegment(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
	noneUpper := authSegment(t, map[string]string{"alg": "NONE", "typ": "JWT"}) + "." + parts[1] + "."

	expired, err := auth.NewTokens(apitest.Secret, apitest.Issuer, apitest.Audience, 15*time.Minute).
		Issue(uuid.MustParse(a.User.ID), uuid.MustParse(ca.SessionID), 1, time.Now().Add(-time.Hour))
	require.NoError(t, err)

	// A signed-in user whose session is then deleted from the database.
	d := s.Signup(t, "deleted.session@example.com")
	require.NoError(t, s.Client.Session.DeleteOneID(uuid.MustParse(authClaims(t, d.AccessToken).SessionID)).Exec(context.Background()))

	cases := []struct{ name, authz string }{
		{"alg none", "Bearer " + none},
		{"alg NONE", "Bearer " + noneUpper},
		{"HS256 with a wrong key", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(*auth.Claims) {}), []byte("wrong-secret-0123456789abcdef0123456789"))},
		{"HS384 with the right key", "Bearer " + authSign(t, jwt.SigningMethodHS384, withA(func(*auth.Claims) {}), apitest.Secret)},
		{"HS512 with the right key", "Bearer " + authSign(t, jwt.SigningMethodHS512, withA(func(*auth.Claims) {}), apitest.Secret)},
		{"payload tampered to ADMIN", "Bearer " + tampered},
		{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"expired", "Bearer " + expired},
		{"wrong iss", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.Issuer = "evil" }), apitest.Secret)},
		{"no iss", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.Issuer = "" }), apitest.Secret)},
		{"wrong aud", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }), apitest.Secret)},
		{"no aud", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.Audience = nil }), apitest.Secret)},
		{"no exp", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.ExpiresAt = nil }), apitest.Secret)},
		{"sid of another user's session", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.SessionID = cb.SessionID }), apitest.Secret)},
		{"sub of another user with own sid", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.Subject = cb.Subject }), apitest.Secret)},
		{"random sid", "Bearer " + authSign(t, jwt.SigningMethodHS256, withA(func(c *auth.Claims) { c.SessionID = uuid.NewString() }), apitest.Secret)},
		{"session deleted", "Bearer " + d.AccessToken},
		{"Bearer with empty token", "Bearer "},
		{"Bearer alone", "Bearer"},
		{"Basic scheme", "Basic xyz"},
		{"Basic scheme with a valid token", "Basic " + a.AccessToken},
		{"token without scheme", a.AccessToken},
		{"garbage", "Bearer garbage"},
		{"three dots of garbage", "Bearer a.b.c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authRequireCode(t, authGQL(t, s, tc.authz, authMeQuery, nil), "UNAUTHENTICATED", "me")
			// A field that needs PAID: refused as UNAUTHENTICATED, not as
			// an anonymous or FREE caller.
			authRequireCode(t, authGQL(t, s, tc.authz, authUsersQuery, nil), "UNAUTHENTICATED", "users")
			// A field that needs no caller still answers.
			r := authGQL(t, s, tc.authz, authBookQuery, map[string]any{"id": uuid.NewString()})
			require.Empty(t, r.Errors, "book(id:) failed on a bad token: %s", r.Body)
			require.JSONEq(t, `{"book": null}`, string(r.Data))
		})
	}
}

func TestAuthCurrentPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "demoted@example.com")
	uid := uuid.MustParse(p.User.ID)

	var books struct{ Books struct{ TotalCount int } }
	s.Query(t, p.AccessToken, authBooksQuery, nil).Decode(t, &books)
	authRequireCode(t, s.Query(t, p.AccessToken, authUsersQuery, nil), "FORBIDDEN", "users")

	require.NoError(t, s.Client.User.UpdateOneID(uid).SetPermissionLevel(0).Exec(ctx))
	require.Equal(t, 1, authClaims(t, p.AccessToken).Perm, "the token still claims FREE")
	authRequireCode(t, s.Query(t, p.AccessToken, authBooksQuery, nil), "FORBIDDEN", "books")
	require.Equal(t, 0, authMe(t, s, p.AccessToken).PermissionLevel, "me shows the level as stored now")

	require.NoError(t, s.Client.User.UpdateOneID(uid).SetPermissionLevel(1|4).Exec(ctx))
	s.Query(t, p.AccessToken, authBooksQuery, nil).Decode(t, &books)
	var users struct{ Users struct{ TotalCount int } }
	s.Query(t, p.AccessToken, authUsersQuery, nil).Decode(t, &users)
	require.Equal(t, 1, users.Users.TotalCount)

	admin := s.User(t, "admin@example.com", 1|2048)
	var del struct{ DeleteUser bool }
	s.Query(t, admin.AccessToken, authDeleteMut, map[string]any{"id": p.User.ID}).Decode(t, &del)
	require.True(t, del.DeleteUser)
	authRequireRefused(t, s, p.AccessToken)
	authRequireCode(t, s.Query(t, p.AccessToken, authBooksQuery, nil), "UNAUTHENTICATED", "books")
	authRequireRefreshRefused(t, s, p.RefreshToken)
}

func TestAuthPasswordChange(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	const email = "changer@example.com"
	self := s.Signup(t, email)
	other := s.Signin(t, email, apitest.Password)
	change := func(t *testing.T, in map[string]any) *apitest.Response {
		t.Helper()
		return s.Query(t, self.AccessToken, authUpdateMut, map[string]any{"id": self.User.ID, "in": in})
	}
	requireUnchanged := func(t *testing.T) {
		t.Helper()
		require.Equal(t, self.User.ID, s.Signin(t, email, apitest.Password).User.ID, "old password no longer signs in")
		authRequireCode(t, authSignin(t, s, email, authNewPassword), "UNAUTHENTICATED", "signin")
		require.Equal(t, self.User.ID, authMe(t, s, self.AccessToken).ID)
		require.Equal(t, self.User.ID, authMe(t, s, other.AccessToken).ID)
	}

	t.Run("missing currentPassword", func(t *testing.T) {
		r := change(t, map[string]any{"password": authNewPassword})
		authRequireCode(t, r, "BAD_USER_INPUT", "updateUser")
		require.Equal(t, "currentPassword", r.Errors[0].Extensions["field"])
		requireUnchanged(t)
	})
	t.Run("wrong currentPassword", func(t *testing.T) {
		r := change(t, map[string]any{"password": authNewPassword, "currentPassword": authWrongPasswd})
		authRequireCode(t, r, "UNAUTHENTICATED", "updateUser")
		requireUnchanged(t)
	})
	t.Run("right currentPassword", func(t *testing.T) {
		var out struct{ UpdateUser struct{ ID string } }
		change(t, map[string]any{"password": authNewPassword, "currentPassword": apitest.Password}).Decode(t, &out)
		require.Equal(t, self.User.ID, out.UpdateUser.ID)

		require.Equal(t, self.User.ID, authMe(t, s, self.AccessToken).ID, "the changing session was ended")
		authRequireRefused(t, s, other.AccessToken)
		authRequireRefreshRefused(t, s, other.RefreshToken)
		n := authMustRefresh(t, s, self.RefreshToken)
		require.Equal(t, self.User.ID, authMe(t, s, n.AccessToken).ID)

		authRequireCode(t, authSignin(t, s, email, apitest.Password), "UNAUTHENTICATED", "signin")
		require.Equal(t, self.User.ID, s.Signin(t, email, authNewPassword).User.ID)
	})
}
