// Package auth issues and verifies access tokens, refresh tokens and
// password hashes for the GraphQL auth server. It is the server's own:
// another service verifies bitgate's access tokens with the JWKS and any
// JOSE library (docs/signing-keys.md), not with this package.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ErrInvalidToken is wrapped by every error Parse returns: bad encoding,
// signature, algorithm, issuer, audience, expiry or claims.
var ErrInvalidToken = errors.New("invalid token")

// ErrExpired is what Parse returns for a token that passes every check but
// expiry: signed with the key, with the right claims, only too old. It
// wraps ErrInvalidToken.
var ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)

// maxTokenLen bounds the size of a token Parse is willing to look at.
const maxTokenLen = 4096

// Leeway is how far past its exp a token is still accepted, and how far in
// the future its iat may be, for clocks that differ between instances.
const Leeway = 30 * time.Second

// Claims are the access token claims: iss, aud, sub (user id), sid (session
// id), perm, iat, exp and jti.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Perm      int    `json:"perm"`
}

// UserID returns the user id held in the sub claim. It returns an error if
// sub is not a canonical, non-nil UUID; it never fails on claims returned by
// Tokens.Parse.
func (c *Claims) UserID() (uuid.UUID, error) {
	id, err := parseID(c.Subject)
	if err != nil {
		return uuid.Nil, fmt.Errorf("sub claim: %w", err)
	}
	return id, nil
}

// Session returns the session id held in the sid claim. It returns an error
// if sid is not a canonical, non-nil UUID; it never fails on claims returned
// by Tokens.Parse.
func (c *Claims) Session() (uuid.UUID, error) {
	id, err := parseID(c.SessionID)
	if err != nil {
		return uuid.Nil, fmt.Errorf("sid claim: %w", err)
	}
	return id, nil
}

// parseID parses s as a UUID in its canonical lower-case 36-character form
// and rejects the nil UUID.
func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, err
	}
	if id == uuid.Nil || id.String() != s {
		return uuid.Nil, fmt.Errorf("non-canonical or nil uuid %q", s)
	}
	return id, nil
}

// Tokens issues and parses access tokens, signed with the keys of a KeySet.
type Tokens struct {
	keys     KeySet
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	verified verifiedTokens
}

// NewTokens returns a Tokens that signs with the current key of keys and
// issues tokens for issuer and audience that are valid for ttl. It accepts
// only tokens of the set's algorithm. now is its clock, for issuing and for
// checking expiry (time.Now if nil).
func NewTokens(keys KeySet, issuer, audience string, ttl time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		keys:     keys,
		issuer:   issuer,
		audience: audience,
		ttl:      ttl,
		now:      now,
		parser: jwt.NewParser(append(claimRules(issuer, audience, now),
			jwt.WithValidMethods([]string{keys.Algorithm()}),
			jwt.WithStrictDecoding(),
		)...),
	}
}

// claimRules are the checks of a token's claims at the time now returns:
// iss and aud as given, an exp in the future and an iat not in the future,
// both with Leeway.
func claimRules(issuer, audience string, now func() time.Time) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithTimeFunc(now),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	}
}

// onlyExpired reports whether claims, whose signature the parser checked,
// would pass every check at their expiry: so that only their age refuses
// them.
func (t *Tokens) onlyExpired(c *Claims) bool {
	if c.ExpiresAt == nil || c.IssuedAt == nil {
		return false
	}
	exp := c.ExpiresAt.Time
	if jwt.NewValidator(claimRules(t.issuer, t.audience, func() time.Time { return exp })...).Validate(c) != nil {
		return false
	}
	_, errUser := c.UserID()
	_, errSession := c.Session()
	return errUser == nil && errSession == nil
}

// TTL returns how long issued access tokens stay valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for the user and session with permission bits
// perm, valid for the TTL from now by the Tokens' clock, with the key set's
// current key named in its kid header; its jti is a random UUID. It returns
// an error if userID or sessionID is the nil UUID, the key set has no
// current key, or random or signing operations fail.
func (t *Tokens) Issue(ctx context.Context, userID, sessionID uuid.UUID, perm int) (string, error) {
	if userID == uuid.Nil || sessionID == uuid.Nil {
		return "", errors.New("issue token: nil user or session id")
	}
	key, err := t.keys.SigningKey(ctx)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("issue token: jti: %w", err)
	}
	now := t.now()
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   userID.String(),
			Audience:  jwt.ClaimStrings{t.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti.String(),
		},
		SessionID: sessionID.String(),
		Perm:      perm,
	}
	tok := jwt.NewWithClaims(key.Method, claims)
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.Private)
	if err != nil {
		return "", fmt.Errorf("issue token: sign with key %s: %w", key.ID, err)
	}
	return s, nil
}

// Parse validates token and returns its claims. It accepts only tokens of
// the key set's algorithm whose header holds nothing but alg, typ ("JWT")
// and the kid of a key that still verifies, signed with that key, with the
// expected iss and aud, an exp in the future and an iat not in the future
// (both with Leeway), and sub and sid that are canonical non-nil UUIDs.
// Every such failure, including tokens longer than 4096 bytes, returns an
// error wrapping ErrInvalidToken, ErrExpired for a token refused for its
// age alone; a failure to look the key up (the database of a KeySet is
// down) returns an error that does not.
//
// A token that passed is remembered by its text (up to a bound), and its
// next Parse checks only what may have changed since: the time claims, and
// whether its key still verifies; any failure there parses it anew.
func (t *Tokens) Parse(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	if v, ok := t.verified.get(token); ok {
		if _, err := t.keys.VerificationKey(ctx, v.kid); err == nil && v.timely(t.now()) {
			claims := v.claims
			return &claims, nil
		}
		t.verified.forget(token)
	}
	claims := &Claims{}
	var kid string
	_, err := t.parser.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		key, err := t.verificationKey(ctx, tok)
		kid, _ = tok.Header["kid"].(string)
		return key, err
	})
	var lookup *lookupError
	switch {
	case errors.As(err, &lookup):
		return nil, lookup.err
	case errors.Is(err, jwt.ErrTokenExpired) && t.onlyExpired(claims):
		return nil, ErrExpired
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	case claims.IssuedAt == nil:
		return nil, fmt.Errorf("%w: missing iat", ErrInvalidToken)
	}
	if _, err := claims.UserID(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if _, err := claims.Session(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	t.verified.put(token, &verifiedToken{claims: *claims, kid: kid}, t.now())
	return claims, nil
}

// headers are the JOSE header parameters a token may carry: the ones Issue
// writes. Anything else is refused, above all the ones that point the
// verifier at a key of the sender's choosing (jku, jwk, x5u, x5c) and crit.
var headers = map[string]bool{"alg": true, "typ": true, "kid": true}

// verificationKey returns the key that must have signed tok: the one its
// kid names, if the header is one Issue could have written.
func (t *Tokens) verificationKey(ctx context.Context, tok *jwt.Token) (any, error) {
	for name := range tok.Header {
		if !headers[name] {
			return nil, fmt.Errorf("header %q is not accepted", name)
		}
	}
	if typ, ok := tok.Header["typ"]; ok && typ != "JWT" {
		return nil, fmt.Errorf("typ %v is not JWT", typ)
	}
	kid, ok := tok.Header["kid"].(string)
	switch _, present := tok.Header["kid"]; {
	case !present:
		kid = noKID // a token of a release before kids: HS256 only
	case !ok || kid == "":
		return nil, errors.New("kid is not a name")
	}
	key, err := t.keys.VerificationKey(ctx, kid)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return nil, err
	case err != nil:
		return nil, &lookupError{err: fmt.Errorf("look up verification key %q: %w", kid, err)}
	case key.Method.Alg() != tok.Method.Alg():
		return nil, fmt.Errorf("key %s is for %s, not %s", kid, key.Method.Alg(), tok.Method.Alg())
	}
	return key.Public, nil
}

// lookupError carries a failure to look a key up, as opposed to a token
// that names no valid key, through the jwt parser.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return e.err.Error() }
