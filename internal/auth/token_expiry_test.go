package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
)

// TestParseTellsExpiryAlone requires ErrExpired for a token refused only
// for its age, and for nothing else: an expired token that is also forged
// or wrong in any other way says no more than any invalid token.
func TestParseTellsExpiryAlone(t *testing.T) {
	tok := newTokens(nil)
	// old edits claims into ones that expired an hour ago.
	old := func(edit func(c *auth.Claims)) *auth.Claims {
		return authtest.With(validClaims(), func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
			edit(c)
		})
	}
	same := func(*auth.Claims) {}
	expired := forger.Sign(t, old(same))

	_, err := tok.Parse(t.Context(), expired)
	require.ErrorIs(t, err, auth.ErrExpired, "Parse(expired)")
	require.ErrorIs(t, err, auth.ErrInvalidToken, "Parse(expired)")

	for _, tc := range []struct{ name, token string }{
		{"fresh but tampered", authtest.Tamper(t, forger.Sign(t, validClaims()), func(p map[string]any) { p["perm"] = 2048 })},
		{"expired, wrong key", forger.SignWith(t, jwt.SigningMethodHS256, []byte("another key another key another!"), old(same))},
		{"expired, alg none", forger.Unsigned(t, "none", old(same))},
		{"expired, HS512 with the key", forger.SignWith(t, jwt.SigningMethodHS512, forger.Key, old(same))},
		{"expired, tampered", authtest.Tamper(t, expired, func(p map[string]any) { p["perm"] = 2048 })},
		{"expired, signature stripped", authtest.StripSignature(expired)},
		{"expired, wrong iss", forger.Sign(t, old(func(c *auth.Claims) { c.Issuer = "evil" }))},
		{"expired, wrong aud", forger.Sign(t, old(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }))},
		{"expired, no iat", forger.Sign(t, old(func(c *auth.Claims) { c.IssuedAt = nil }))},
		{"expired, issued after expiry", forger.Sign(t, old(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(time.Now()) }))},
		{"expired, not valid before its expiry", forger.Sign(t, old(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now()) }))},
		{"expired, sub not a uuid", forger.Sign(t, old(func(c *auth.Claims) { c.Subject = "admin" }))},
		{"expired, no sid", forger.Sign(t, old(func(c *auth.Claims) { c.SessionID = "" }))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tok.Parse(t.Context(), tc.token)
			require.ErrorIs(t, err, auth.ErrInvalidToken, "Parse(%s)", tc.name)
			require.False(t, errors.Is(err, auth.ErrExpired), "Parse(%s) = %v, want no ErrExpired", tc.name, err)
		})
	}
}
