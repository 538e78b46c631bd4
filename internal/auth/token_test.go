package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
)

// forger makes tokens as newTokens' would be: same key, issuer, audience.
var forger = authtest.Forger{
	Key:    []byte("0123456789abcdef0123456789abcdef"),
	Issuer: "bitgate", Audience: "bitgate-api", TTL: time.Minute,
}

// newTokens returns the Tokens under test, with forger's key, on the clock
// now (time.Now if nil).
func newTokens(now func() time.Time) *auth.Tokens {
	keys, err := auth.NewHMACKeys(forger.Key, auth.HMACOptions{Now: now})
	if err != nil {
		panic(err)
	}
	return auth.NewTokens(keys, forger.Issuer, forger.Audience, 15*time.Minute, now)
}

// validClaims returns claims that Parse accepts when signed by forger.
func validClaims() *auth.Claims { return forger.Claims(uuid.NewString(), uuid.NewString()) }

func TestTokensRoundTrip(t *testing.T) {
	tok := newTokens(nil)
	require.Equal(t, 15*time.Minute, tok.TTL())
	user, session := uuid.New(), uuid.New()
	s, err := tok.Issue(context.Background(), user, session, 7)
	require.NoError(t, err)

	c, err := tok.Parse(context.Background(), s)
	require.NoError(t, err, "Parse(%q)", s)
	gotUser, err := c.UserID()
	require.NoError(t, err)
	gotSession, err := c.Session()
	require.NoError(t, err)
	require.Equal(t, user, gotUser, "UserID() = %v, want %v", gotUser, user)
	require.Equal(t, session, gotSession, "Session() = %v, want %v", gotSession, session)
	require.Equal(t, 7, c.Perm)
	require.Equal(t, forger.Issuer, c.Issuer)
	require.Equal(t, jwt.ClaimStrings{forger.Audience}, c.Audience)
	_, err = uuid.Parse(c.ID)
	require.NoError(t, err, "jti %q is not a uuid", c.ID)
	require.NotNil(t, c.IssuedAt)
	require.Equal(t, 15*time.Minute, c.ExpiresAt.Sub(c.IssuedAt.Time))

	s2, err := tok.Issue(context.Background(), user, session, 7)
	require.NoError(t, err)
	c2, err := tok.Parse(context.Background(), s2)
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID, "jti must differ between tokens")
}

func TestIssueRejectsNilIDs(t *testing.T) {
	tok := newTokens(nil)
	_, err := tok.Issue(context.Background(), uuid.Nil, uuid.New(), 0)
	require.Error(t, err)
	_, err = tok.Issue(context.Background(), uuid.New(), uuid.Nil, 0)
	require.Error(t, err)
	_, err = auth.NewHMACKeys(nil, auth.HMACOptions{})
	require.Error(t, err, "NewHMACKeys accepted an empty secret")
}

func TestParseRejects(t *testing.T) {
	tok := newTokens(nil)
	valid, err := tok.Issue(context.Background(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)
	anHourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	expired, err := newTokens(anHourAgo).Issue(context.Background(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	// with signs fresh valid claims changed by edit, as the server signs.
	with := func(edit func(c *auth.Claims)) string {
		return forger.Sign(t, authtest.With(validClaims(), edit))
	}
	hs256 := forger.Header("HS256")
	c := validClaims()

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not a token"},
		{"three dots", "a.b.c"},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.e30"},
		{"four parts", valid + ".x"},
		{"over 4096 bytes", valid + strings.Repeat("A", 4096)},
		{"expired", expired},
		{"issued in future", with(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(5 * time.Minute))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(10 * time.Minute))
		})},
		{"wrong key", forger.SignWith(t, jwt.SigningMethodHS256, []byte("another key another key another!"), validClaims())},
		{"alg none by hand", forger.Unsigned(t, "none", validClaims())},
		{"alg none via jwt", forger.SignWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())},
		{"HS384 same key", forger.SignWith(t, jwt.SigningMethodHS384, forger.Key, validClaims())},
		{"HS512 same key", forger.SignWith(t, jwt.SigningMethodHS512, forger.Key, validClaims())},
		{"RS256", forger.SignWith(t, jwt.SigningMethodRS256, rsaKey, validClaims())},
		{"ES256", forger.SignWith(t, jwt.SigningMethodES256, ecKey, validClaims())},
		{"RS256 header with HMAC signature", authtest.SignRaw(t, forger.Header("RS256"), validClaims(), jwt.SigningMethodHS256, forger.Key)},
		{"tampered perm", authtest.Tamper(t, valid, func(p map[string]any) { p["perm"] = 1 << 30 })},
		{"stripped signature", authtest.StripSignature(valid)},
		{"wrong iss", with(func(c *auth.Claims) { c.Issuer = "evil" })},
		{"missing iss", with(func(c *auth.Claims) { c.Issuer = "" })},
		{"wrong aud", with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-api"} })},
		{"missing aud", with(func(c *auth.Claims) { c.Audience = nil })},
		{"missing exp", with(func(c *auth.Claims) { c.ExpiresAt = nil })},
		{"missing iat", with(func(c *auth.Claims) { c.IssuedAt = nil })},
		{"not yet valid", with(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) })},
		{"sub not a uuid", with(func(c *auth.Claims) { c.Subject = "admin" })},
		{"sub empty", with(func(c *auth.Claims) { c.Subject = "" })},
		{"sub nil uuid", with(func(c *auth.Claims) { c.Subject = uuid.Nil.String() })},
		{"sub braced uuid", with(func(c *auth.Claims) { c.Subject = "{" + uuid.NewString() + "}" })},
		{"sub upper-case uuid", with(func(c *auth.Claims) { c.Subject = strings.ToUpper(uuid.NewString()) })},
		{"sid not a uuid", with(func(c *auth.Claims) { c.SessionID = "x" })},
		{"sid missing", with(func(c *auth.Claims) { c.SessionID = "" })},
		{"perm not a number", authtest.SignRaw(t, hs256, map[string]any{
			"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "sid": c.SessionID,
			"iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix(), "perm": "all",
		}, jwt.SigningMethodHS256, forger.Key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tok.Parse(context.Background(), tt.token)
			require.Nil(t, c, "Parse(%q) claims = %+v, want nil", tt.token, c)
			require.True(t, errors.Is(err, auth.ErrInvalidToken), "Parse(%q) = %v, want %v", tt.token, err, auth.ErrInvalidToken)
		})
	}
}

// TestParseUsesTheClock issues a token, then checks it on the Tokens' own
// clock: valid up to its expiry plus the 30s leeway, refused after.
func TestParseUsesTheClock(t *testing.T) {
	now := time.Now()
	tok := newTokens(func() time.Time { return now })
	s, err := tok.Issue(context.Background(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)

	now = now.Add(tok.TTL() + 10*time.Second) // expired 10s ago: inside the leeway
	_, err = tok.Parse(context.Background(), s)
	require.NoError(t, err, "Parse(%q) 10s after expiry = %v, want nil", s, err)

	now = now.Add(time.Minute)
	_, err = tok.Parse(context.Background(), s)
	require.ErrorIs(t, err, auth.ErrInvalidToken, "Parse(%q) 70s after expiry", s)
}

func TestClaimsHelpersReject(t *testing.T) {
	c := &auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "nope"}, SessionID: "nope"}
	_, err := c.UserID()
	require.Error(t, err)
	_, err = c.Session()
	require.Error(t, err)
}

// BenchmarkParse measures Parse of a token seen for the first time, and of
// one it remembers as verified (a client's every request after its first).
func BenchmarkParse(b *testing.B) { benchmarkParse(b, newTokens(nil)) }

func benchmarkParse(b *testing.B, tok *auth.Tokens) {
	issue := func() string {
		s, err := tok.Issue(b.Context(), uuid.New(), uuid.New(), 1)
		require.NoError(b, err)
		return s
	}
	b.Run("first", func(b *testing.B) {
		tokens := make([]string, b.N)
		for i := range tokens {
			tokens[i] = issue()
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := tok.Parse(b.Context(), tokens[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		s := issue()
		for b.Loop() {
			if _, err := tok.Parse(b.Context(), s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
