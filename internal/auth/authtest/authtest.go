// Package authtest forges access tokens for tests: valid ones made exactly
// as the server makes them, and the invalid kinds an attacker tries (other
// algorithms, other keys, tampered payloads, missing claims). The auth
// package's tests and the end-to-end tests share it.
package authtest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/auth"
)

// Forger makes tokens with a server's key, issuer and audience. Every token
// it signs names KID in its header, so that a forgery is refused for what
// it forges, not for a missing kid.
type Forger struct {
	// Key is the server's HS256 secret.
	Key []byte
	// KID is the kid its tokens name; empty means Key's (auth.HMACKeyID).
	KID              string
	Issuer, Audience string
	// TTL is the lifetime of claims made by Claims; 0 means 15 minutes.
	TTL time.Duration
	// Now is the clock of Claims; nil means time.Now.
	Now func() time.Time
}

// Claims returns the claims the server would issue for user and session
// (both UUID strings), issued now and valid for f.TTL, with permission bits
// 1 and a fresh jti.
func (f Forger) Claims(userID, sessionID string) *auth.Claims {
	now, ttl := time.Now(), f.TTL
	if f.Now != nil {
		now = f.Now()
	}
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	return &auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    f.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{f.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		SessionID: sessionID,
		Perm:      1,
	}
}

// With returns a copy of c changed by edit, leaving c as it was.
func With(c *auth.Claims, edit func(*auth.Claims)) *auth.Claims {
	out := *c
	out.Audience = append(jwt.ClaimStrings(nil), c.Audience...)
	edit(&out)
	return &out
}

// kid returns the kid f's tokens name.
func (f Forger) kid() string {
	if f.KID != "" {
		return f.KID
	}
	return auth.HMACKeyID(f.Key)
}

// Sign signs claims with HS256 and f.Key, as an HS256 server signs.
func (f Forger) Sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	return f.SignWith(t, jwt.SigningMethodHS256, f.Key, claims)
}

// SignWith signs claims with any method and key, under f's kid.
func (f Forger) SignWith(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	unsigned := jwt.NewWithClaims(method, claims)
	unsigned.Header["kid"] = f.kid()
	token, err := unsigned.SignedString(key)
	require.NoError(t, err, "sign a %s token", method.Alg())
	return token
}

// Header returns the header f's tokens carry, with alg and the extra
// fields of keyValues (pairs of name and value) added, for SignRaw.
func (f Forger) Header(alg string, keyValues ...any) map[string]any {
	h := map[string]any{"alg": alg, "typ": "JWT", "kid": f.kid()}
	for i := 0; i+1 < len(keyValues); i += 2 {
		h[keyValues[i].(string)] = keyValues[i+1]
	}
	return h
}

// SignRaw signs any JSON header and payload with method and key, bypassing
// jwt's own header and claim types: for a header that lies about its
// algorithm, or claims of the wrong JSON types.
func SignRaw(t testing.TB, header map[string]any, payload any, method jwt.SigningMethod, key any) string {
	t.Helper()
	signed := Segment(t, header) + "." + Segment(t, payload)
	sig, err := method.Sign(signed, key)
	require.NoError(t, err, "sign with %s", method.Alg())
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Unsigned returns payload under f's header naming alg ("none", "NONE",
// …) with an empty signature.
func (f Forger) Unsigned(t testing.TB, alg string, payload any) string {
	t.Helper()
	return Segment(t, f.Header(alg)) + "." + Segment(t, payload) + "."
}

// Tamper returns token with its payload changed by edit and re-encoded, its
// header and signature kept as they were.
func Tamper(t testing.TB, token string, edit func(payload map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "a JWT has three parts: %q", token)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err, "decode the payload of %q", token)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(raw, &payload))
	edit(payload)
	parts[1] = Segment(t, payload)
	return strings.Join(parts, ".")
}

// StripSignature returns token without its signature (the dot kept).
func StripSignature(token string) string { return token[:strings.LastIndex(token, ".")+1] }

// Segment encodes v as a JWT segment: its JSON, base64url without padding.
func Segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ClaimsOf reads the claims of token without verifying it.
func ClaimsOf(t testing.TB, token string) *auth.Claims {
	t.Helper()
	c := &auth.Claims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, c)
	require.NoError(t, err, "parse token %q", token)
	return c
}
