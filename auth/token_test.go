package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "bitgate"
	testAudience = "bitgate-api"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newTestTokens() *Tokens {
	return NewTokens(testKey, testIssuer, testAudience, 15*time.Minute)
}

// validClaims returns claims that Parse accepts when signed with testKey.
func validClaims() *Claims {
	now := time.Now()
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   uuid.NewString(),
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		SessionID: uuid.NewString(),
		Perm:      1,
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c *Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	require.NoError(t, err)
	return s
}

func b64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// algNoneByHand builds an unsigned token with header {"alg":"none"}.
func algNoneByHand(t testing.TB) string {
	return b64(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(t, validClaims()) + "."
}

func TestTokensRoundTrip(t *testing.T) {
	tok := newTestTokens()
	require.Equal(t, 15*time.Minute, tok.TTL())
	user, session := uuid.New(), uuid.New()
	s, err := tok.Issue(user, session, 7, time.Now())
	require.NoError(t, err)

	c, err := tok.Parse(s)
	require.NoError(t, err, "Parse(%q)", s)
	gotUser, err := c.UserID()
	require.NoError(t, err)
	gotSession, err := c.Session()
	require.NoError(t, err)
	require.Equal(t, user, gotUser, "UserID() = %v, want %v", gotUser, user)
	require.Equal(t, session, gotSession, "Session() = %v, want %v", gotSession, session)
	require.Equal(t, 7, c.Perm)
	require.Equal(t, testIssuer, c.Issuer)
	require.Equal(t, jwt.ClaimStrings{testAudience}, c.Audience)
	_, err = uuid.Parse(c.ID)
	require.NoError(t, err, "jti %q is not a uuid", c.ID)
	require.NotNil(t, c.IssuedAt)
	require.Equal(t, 15*time.Minute, c.ExpiresAt.Sub(c.IssuedAt.Time))

	s2, err := tok.Issue(user, session, 7, time.Now())
	require.NoError(t, err)
	c2, err := tok.Parse(s2)
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID, "jti must differ between tokens")
}

func TestIssueRejectsNilIDs(t *testing.T) {
	tok := newTestTokens()
	_, err := tok.Issue(uuid.Nil, uuid.New(), 0, time.Now())
	require.Error(t, err)
	_, err = tok.Issue(uuid.New(), uuid.Nil, 0, time.Now())
	require.Error(t, err)
	_, err = NewTokens(nil, testIssuer, testAudience, time.Minute).Issue(uuid.New(), uuid.New(), 0, time.Now())
	require.Error(t, err)
}

func TestParseRejects(t *testing.T) {
	tok := newTestTokens()
	valid, err := tok.Issue(uuid.New(), uuid.New(), 1, time.Now())
	require.NoError(t, err)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	// with applies f to fresh valid claims and signs them with HS256 and testKey.
	with := func(f func(c *Claims)) string {
		c := validClaims()
		f(c)
		return sign(t, jwt.SigningMethodHS256, testKey, c)
	}

	tampered := func() string {
		parts := strings.Split(valid, ".")
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		m["perm"] = 1 << 30
		parts[1] = b64(t, m)
		return strings.Join(parts, ".")
	}()

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not a token"},
		{"three dots", "a.b.c"},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.e30"},
		{"four parts", valid + ".x"},
		{"oversized", valid + strings.Repeat("A", maxTokenLen)},
		{"expired", func() string {
			s, err := tok.Issue(uuid.New(), uuid.New(), 1, time.Now().Add(-time.Hour))
			require.NoError(t, err)
			return s
		}()},
		{"issued in future", with(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(5 * time.Minute))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(10 * time.Minute))
		})},
		{"wrong key", sign(t, jwt.SigningMethodHS256, []byte("another key another key another!"), validClaims())},
		{"alg none by hand", algNoneByHand(t)},
		{"alg none via jwt", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())},
		{"HS384 same key", sign(t, jwt.SigningMethodHS384, testKey, validClaims())},
		{"HS512 same key", sign(t, jwt.SigningMethodHS512, testKey, validClaims())},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, validClaims())},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, validClaims())},
		{"RS256 header with HMAC signature", func() string {
			head := b64(t, map[string]string{"alg": "RS256", "typ": "JWT"})
			body := b64(t, validClaims())
			sig, err := jwt.SigningMethodHS256.Sign(head+"."+body, testKey)
			require.NoError(t, err)
			return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
		}()},
		{"tampered perm", tampered},
		{"stripped signature", valid[:strings.LastIndex(valid, ".")+1]},
		{"wrong iss", with(func(c *Claims) { c.Issuer = "evil" })},
		{"missing iss", with(func(c *Claims) { c.Issuer = "" })},
		{"wrong aud", with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-api"} })},
		{"missing aud", with(func(c *Claims) { c.Audience = nil })},
		{"missing exp", with(func(c *Claims) { c.ExpiresAt = nil })},
		{"missing iat", with(func(c *Claims) { c.IssuedAt = nil })},
		{"not yet valid", with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) })},
		{"sub not a uuid", with(func(c *Claims) { c.Subject = "admin" })},
		{"sub empty", with(func(c *Claims) { c.Subject = "" })},
		{"sub nil uuid", with(func(c *Claims) { c.Subject = uuid.Nil.String() })},
		{"sub braced uuid", with(func(c *Claims) { c.Subject = "{" + uuid.NewString() + "}" })},
		{"sub upper-case uuid", with(func(c *Claims) { c.Subject = strings.ToUpper(uuid.NewString()) })},
		{"sid not a uuid", with(func(c *Claims) { c.SessionID = "x" })},
		{"sid missing", with(func(c *Claims) { c.SessionID = "" })},
		{"perm not a number", func() string {
			head := b64(t, map[string]string{"alg": "HS256", "typ": "JWT"})
			c := validClaims()
			body := b64(t, map[string]any{
				"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "sid": c.SessionID,
				"iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix(), "perm": "all",
			})
			sig, err := jwt.SigningMethodHS256.Sign(head+"."+body, testKey)
			require.NoError(t, err)
			return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tok.Parse(tt.token)
			require.Nil(t, c, "Parse(%q) claims = %+v, want nil", tt.token, c)
			require.True(t, errors.Is(err, ErrInvalidToken), "Parse(%q) = %v, want %v", tt.token, err, ErrInvalidToken)
		})
	}
}

func TestParseLeeway(t *testing.T) {
	tok := newTestTokens()
	// Expired 10s ago: still inside the 30s leeway.
	s, err := tok.Issue(uuid.New(), uuid.New(), 1, time.Now().Add(-tok.TTL()-10*time.Second))
	require.NoError(t, err)
	_, err = tok.Parse(s)
	require.NoError(t, err, "Parse(%q) = %v, want nil", s, err)
}

func TestClaimsHelpersReject(t *testing.T) {
	c := &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "nope"}, SessionID: "nope"}
	_, err := c.UserID()
	require.Error(t, err)
	_, err = c.Session()
	require.Error(t, err)
}

func BenchmarkParse(b *testing.B) {
	tok := newTestTokens()
	s, err := tok.Issue(uuid.New(), uuid.New(), 1, time.Now())
	require.NoError(b, err)
	for b.Loop() {
		if _, err := tok.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
