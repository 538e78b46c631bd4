package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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

// edKeys is an EdDSA KeySet held in memory, standing in for the database
// store of internal/keys.
type edKeys struct {
	current auth.Key
	err     error // returned by VerificationKey when set
}

func newEdKeys(t testing.TB) *edKeys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return &edKeys{current: auth.Key{ID: "ed-test-key", Method: jwt.SigningMethodEdDSA, Private: priv, Public: pub}}
}

func (k *edKeys) Algorithm() string                            { return "EdDSA" }
func (k *edKeys) SigningKey(context.Context) (auth.Key, error) { return k.current, nil }
func (k *edKeys) VerificationKey(_ context.Context, kid string) (auth.Key, error) {
	switch {
	case k.err != nil:
		return auth.Key{}, k.err
	case kid == k.current.ID:
		return auth.Key{ID: kid, Method: k.current.Method, Public: k.current.Public}, nil
	}
	return auth.Key{}, auth.ErrUnknownKey
}

// signHeader signs c with m and key under the header fields given (alg is
// set from m).
func signHeader(t testing.TB, m jwt.SigningMethod, key any, header map[string]any, c *auth.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header = map[string]any{"alg": m.Alg()}
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// requireInvalid requires that Parse refuses token as an invalid token.
func requireInvalid(t *testing.T, tok *auth.Tokens, token string) {
	t.Helper()
	c, err := tok.Parse(t.Context(), token)
	require.Nil(t, c, "Parse(%q) claims = %+v, want nil", token, c)
	require.ErrorIs(t, err, auth.ErrInvalidToken, "Parse(%q)", token)
}

func TestHMACKeyID(t *testing.T) {
	a, b := auth.HMACKeyID(forger.Key), auth.HMACKeyID([]byte("another secret, as long as the first"))
	require.True(t, strings.HasPrefix(a, "hs256-"), "auth.HMACKeyID = %q", a)
	require.Len(t, a, len("hs256-")+16)
	require.Equal(t, a, auth.HMACKeyID(forger.Key), "auth.HMACKeyID is not stable")
	require.NotEqual(t, a, b, "two secrets share a kid")
	require.NotContains(t, a, base64.RawURLEncoding.EncodeToString(forger.Key)[:8], "kid shows the secret")
}

func TestIssueNamesTheKey(t *testing.T) {
	tok := newTokens(nil)
	s, err := tok.Issue(t.Context(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)
	parsed, _, err := jwt.NewParser().ParseUnverified(s, &auth.Claims{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": auth.HMACKeyID(forger.Key)}, parsed.Header)
}

// TestHMACPrevious rotates the HS256 secret: tokens of the previous secret
// verify until its deadline and not after, new tokens carry the new kid,
// and the old server refuses them.
func TestHMACPrevious(t *testing.T) {
	newKey := []byte("the new secret, 32 bytes or more!!")
	now := time.Now()
	clock := func() time.Time { return now }
	rotated, err := auth.NewHMACKeys(newKey, auth.HMACOptions{Previous: forger.Key, PreviousUntil: now.Add(time.Minute), Now: clock})
	require.NoError(t, err)
	oldServer, newServer := newTokens(clock), auth.NewTokens(rotated, forger.Issuer, forger.Audience, 15*time.Minute, clock)

	before, err := oldServer.Issue(t.Context(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)
	after, err := newServer.Issue(t.Context(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)

	_, err = newServer.Parse(t.Context(), before)
	require.NoError(t, err, "a token of the previous secret before its deadline")
	_, err = newServer.Parse(t.Context(), after)
	require.NoError(t, err, "a token of the current secret")
	requireInvalid(t, oldServer, after)

	now = now.Add(time.Minute)
	requireInvalid(t, newServer, before)
	_, err = newServer.Parse(t.Context(), after)
	require.NoError(t, err, "the current secret has no deadline")

	_, err = auth.NewHMACKeys(forger.Key, auth.HMACOptions{Previous: forger.Key})
	require.Error(t, err, "the previous secret may not be the current one")
}

// TestParseRefusesHeaders refuses tokens, correctly signed, whose header
// holds anything Issue does not write: above all the parameters that
// point a verifier at a key of the sender's choosing.
func TestParseRefusesHeaders(t *testing.T) {
	tok := newTokens(nil)
	kid := auth.HMACKeyID(forger.Key)
	ed := newEdKeys(t)
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(ed.current.Public.(ed25519.PublicKey))}
	for _, tc := range []struct {
		name   string
		header map[string]any
	}{
		{"jku", map[string]any{"kid": kid, "jku": "https://evil.example/jwks.json"}},
		{"x5u", map[string]any{"kid": kid, "x5u": "https://evil.example/cert.pem"}},
		{"jwk", map[string]any{"kid": kid, "jwk": jwk}},
		{"x5c", map[string]any{"kid": kid, "x5c": []string{"MIIB"}}},
		{"crit", map[string]any{"kid": kid, "crit": []string{"exp"}}},
		{"typ not JWT", map[string]any{"kid": kid, "typ": "at+jwt"}},
		{"empty kid", map[string]any{"kid": ""}},
		{"kid not a string", map[string]any{"kid": 7}},
		{"unknown kid", map[string]any{"kid": "hs256-AAAAAAAAAAAAAAAA"}},
		{"kid of another secret", map[string]any{"kid": auth.HMACKeyID([]byte("x"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireInvalid(t, tok, signHeader(t, jwt.SigningMethodHS256, forger.Key, tc.header, validClaims()))
		})
	}
	// Control: the same construction with the header Issue writes passes.
	_, err := tok.Parse(t.Context(), signHeader(t, jwt.SigningMethodHS256, forger.Key, map[string]any{"kid": kid, "typ": "JWT"}, validClaims()))
	require.NoError(t, err)
}

// TestParseTokensWithoutKID accepts an HS256 token without a kid, as the
// releases before kids issued, under the current secret only, so that an
// upgrade signs nobody out; an EdDSA key set knows no such token.
func TestParseTokensWithoutKID(t *testing.T) {
	noKID := map[string]any{"typ": "JWT"}
	tok := newTokens(nil)
	_, err := tok.Parse(t.Context(), signHeader(t, jwt.SigningMethodHS256, forger.Key, noKID, validClaims()))
	require.NoError(t, err, "a token of the release before kids")
	requireInvalid(t, tok, signHeader(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes or more!"), noKID, validClaims()))

	ed := newEdKeys(t)
	edTok := auth.NewTokens(ed, forger.Issuer, forger.Audience, 15*time.Minute, nil)
	requireInvalid(t, edTok, signHeader(t, jwt.SigningMethodEdDSA, ed.current.Private, noKID, validClaims()))
}

// TestEdDSA signs and verifies with Ed25519 and refuses the forgeries that
// asymmetric keys invite.
func TestEdDSA(t *testing.T) {
	ed := newEdKeys(t)
	tok := auth.NewTokens(ed, forger.Issuer, forger.Audience, 15*time.Minute, nil)
	s, err := tok.Issue(t.Context(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)
	_, err = tok.Parse(t.Context(), s)
	require.NoError(t, err, "Parse of an EdDSA token")

	pub := ed.current.Public.(ed25519.PublicKey)
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	hdr := map[string]any{"kid": ed.current.ID, "typ": "JWT"}
	for _, tc := range []struct{ name, token string }{
		{"HS256 with the public key as the secret", signHeader(t, jwt.SigningMethodHS256, []byte(pub), hdr, validClaims())},
		{"HS256 with the base64 public key as the secret", signHeader(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), hdr, validClaims())},
		{"HS256 with the test secret", signHeader(t, jwt.SigningMethodHS256, forger.Key, hdr, validClaims())},
		{"alg none", authtest.Segment(t, map[string]any{"alg": "none", "kid": ed.current.ID}) + "." + authtest.Segment(t, validClaims()) + "."},
		{"EdDSA by another key under our kid", signHeader(t, jwt.SigningMethodEdDSA, otherPriv, hdr, validClaims())},
		{"EdDSA with an unknown kid", signHeader(t, jwt.SigningMethodEdDSA, ed.current.Private, map[string]any{"kid": "someone-else"}, validClaims())},
		{"EdDSA with a jwk header", signHeader(t, jwt.SigningMethodEdDSA, otherPriv, map[string]any{"kid": ed.current.ID, "jwk": map[string]any{"kty": "OKP"}}, validClaims())},
		{"EdDSA with jku", signHeader(t, jwt.SigningMethodEdDSA, ed.current.Private, map[string]any{"kid": ed.current.ID, "jku": "https://evil.example/"}, validClaims())},
	} {
		t.Run(tc.name, func(t *testing.T) { requireInvalid(t, tok, tc.token) })
	}
	// Control: the forgeries' construction with the right key and header.
	_, err = tok.Parse(t.Context(), signHeader(t, jwt.SigningMethodEdDSA, ed.current.Private, hdr, validClaims()))
	require.NoError(t, err)

	// An HS256 server refuses EdDSA tokens, whatever their kid.
	requireInvalid(t, newTokens(nil), signHeader(t, jwt.SigningMethodEdDSA, ed.current.Private, map[string]any{"kid": auth.HMACKeyID(forger.Key)}, validClaims()))
}

// TestParseLookupFailure tells a key set that cannot answer from a token
// that is invalid: the first is not auth.ErrInvalidToken, so that a database
// outage is not taken for a forged token. Both hold for a token that
// passed before (and is remembered as verified), and a remembered token
// passes again once the keys answer.
func TestParseLookupFailure(t *testing.T) {
	ed := newEdKeys(t)
	tok := auth.NewTokens(ed, forger.Issuer, forger.Audience, 15*time.Minute, nil)
	s, err := tok.Issue(t.Context(), uuid.New(), uuid.New(), 1)
	require.NoError(t, err)
	for _, seenBefore := range []bool{false, true} {
		if seenBefore {
			ed.err = nil
			_, err = tok.Parse(t.Context(), s)
			require.NoError(t, err)
		}
		down := errors.New("database is down")
		ed.err = down
		_, err = tok.Parse(t.Context(), s)
		require.ErrorIs(t, err, down, "seen before: %v", seenBefore)
		require.NotErrorIs(t, err, auth.ErrInvalidToken)

		ed.err = auth.ErrUnknownKey
		requireInvalid(t, tok, s)
	}
	ed.err = nil
	_, err = tok.Parse(t.Context(), s)
	require.NoError(t, err, "the key answers again")
}

func BenchmarkParseEdDSA(b *testing.B) {
	benchmarkParse(b, auth.NewTokens(newEdKeys(b), forger.Issuer, forger.Audience, 15*time.Minute, nil))
}
