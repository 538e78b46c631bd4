package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnknownKey is wrapped by the errors of KeySet.VerificationKey for a kid
// that names no key of the set, or a key that no longer verifies.
var ErrUnknownKey = errors.New("unknown signing key")

// Key is one key of a KeySet.
type Key struct {
	// ID is the key's kid: the tokens it signs name it in their header.
	ID string
	// Method is the signing algorithm.
	Method jwt.SigningMethod
	// Private signs: the secret ([]byte) for HS256, an ed25519.PrivateKey
	// for EdDSA. Keys returned by VerificationKey may lack it.
	Private any
	// Public verifies: the secret again for HS256, an ed25519.PublicKey
	// for EdDSA.
	Public any
}

// KeySet holds the keys of one algorithm that Tokens signs and verifies
// access tokens with. Implementations are safe for concurrent use.
type KeySet interface {
	// Algorithm returns the JWS alg of every key of the set; tokens of any
	// other alg are refused.
	Algorithm() string
	// SigningKey returns the key that signs new tokens now. It returns an
	// error if the set has no usable current key.
	SigningKey(ctx context.Context) (Key, error)
	// VerificationKey returns the key named kid if it verifies tokens now.
	// It returns an error wrapping ErrUnknownKey if it does not, and
	// another error if the keys cannot be looked up.
	VerificationKey(ctx context.Context, kid string) (Key, error)
}

// HMACKeys is the KeySet of HS256: a current secret, which signs and
// verifies, and optionally the secret it replaced, which keeps verifying
// until a deadline, so that a new secret signs nobody out. The kid of a
// secret is derived from it (see HMACKeyID).
type HMACKeys struct {
	current       Key
	previous      Key // zero if none
	previousUntil time.Time
	now           func() time.Time
}

// HMACOptions configure NewHMACKeys beyond the current secret.
type HMACOptions struct {
	// Previous is the secret Current replaced; nil if none.
	Previous []byte
	// PreviousUntil is when Previous stops verifying.
	PreviousUntil time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewHMACKeys returns the HS256 key set of the secret current (which
// should be at least 32 random bytes). The secrets are copied. It returns
// an error if current is empty or opts.Previous equals it.
func NewHMACKeys(current []byte, opts HMACOptions) (*HMACKeys, error) {
	if len(current) == 0 {
		return nil, errors.New("HS256 keys: empty secret")
	}
	k := &HMACKeys{current: hmacKey(current), now: opts.Now}
	if k.now == nil {
		k.now = time.Now
	}
	if len(opts.Previous) > 0 {
		if hmac.Equal(opts.Previous, current) {
			return nil, errors.New("HS256 keys: the previous secret is the current one")
		}
		k.previous, k.previousUntil = hmacKey(opts.Previous), opts.PreviousUntil
	}
	return k, nil
}

// hmacKey returns the HS256 Key of secret.
func hmacKey(secret []byte) Key {
	secret = append([]byte(nil), secret...)
	return Key{ID: HMACKeyID(secret), Method: jwt.SigningMethodHS256, Private: secret, Public: secret}
}

// noKID is the kid VerificationKey is asked for when a token has none.
const noKID = ""

// HMACKeyID returns the kid of an HS256 secret: "hs256-" and 16 characters
// of an HMAC of a fixed text under the secret. It names the secret without
// helping to guess it any more than a token signed with it does.
func HMACKeyID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bitgate access token key id"))
	return "hs256-" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:16]
}

// Algorithm returns HS256.
func (k *HMACKeys) Algorithm() string { return jwt.SigningMethodHS256.Alg() }

// SigningKey returns the current secret. It never fails.
func (k *HMACKeys) SigningKey(context.Context) (Key, error) { return k.current, nil }

// VerificationKey returns the current secret, or the previous one until its
// deadline, by kid. The empty kid names the current secret: tokens of the
// releases before kids carried none and were signed with it. Returns an
// error wrapping ErrUnknownKey for any other kid.
func (k *HMACKeys) VerificationKey(_ context.Context, kid string) (Key, error) {
	switch {
	case kid == k.current.ID, kid == noKID:
		return k.current, nil
	case k.previous.ID != "" && kid == k.previous.ID && k.now().Before(k.previousUntil):
		return k.previous, nil
	}
	return Key{}, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}
