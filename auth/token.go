// Package auth issues and verifies access tokens, refresh tokens and
// password hashes for the GraphQL auth server.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ErrInvalidToken is wrapped by every error Parse returns: bad encoding,
// signature, algorithm, issuer, audience, expiry or claims.
var ErrInvalidToken = errors.New("invalid token")

// maxTokenLen bounds the size of a token Parse is willing to look at.
const maxTokenLen = 4096

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

// Tokens issues and parses HS256-signed access tokens.
type Tokens struct {
	key      []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewTokens returns a Tokens that signs with key (which should be at least 32
// random bytes) and issues tokens for issuer and audience that are valid for
// ttl. now is its clock, for issuing and for checking expiry (time.Now if
// nil). The key is copied.
func NewTokens(key []byte, issuer, audience string, ttl time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		key:      append([]byte(nil), key...),
		issuer:   issuer,
		audience: audience,
		ttl:      ttl,
		now:      now,
		parser: jwt.NewParser(
			jwt.WithTimeFunc(now),
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
			jwt.WithStrictDecoding(),
		),
	}
}

// TTL returns how long issued access tokens stay valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for the user and session with permission bits
// perm, valid for the TTL from now by the Tokens' clock; its jti is a random
// UUID. It returns an error if userID or sessionID is the nil UUID, the key
// is empty, or random or signing operations fail.
func (t *Tokens) Issue(userID, sessionID uuid.UUID, perm int) (string, error) {
	if userID == uuid.Nil || sessionID == uuid.Nil {
		return "", errors.New("issue token: nil user or session id")
	}
	if len(t.key) == 0 {
		return "", errors.New("issue token: empty signing key")
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
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("issue token: sign: %w", err)
	}
	return s, nil
}

// Parse validates token and returns its claims. It accepts only HS256
// tokens signed with the Tokens key, with the expected iss and aud, an exp in
// the future and an iat not in the future (both with 30s leeway), and sub and
// sid that are canonical non-nil UUIDs. Every failure, including tokens
// longer than 4096 bytes, returns an error wrapping ErrInvalidToken.
func (t *Tokens) Parse(token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	if len(t.key) == 0 {
		return nil, fmt.Errorf("%w: empty signing key", ErrInvalidToken)
	}
	claims := &Claims{}
	_, err := t.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
		return t.key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: missing iat", ErrInvalidToken)
	}
	if _, err := claims.UserID(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if _, err := claims.Session(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claims, nil
}
