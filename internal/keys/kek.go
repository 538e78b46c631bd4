package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// ParseKEK decodes a key-encryption key given as base64 (standard or URL
// alphabet, padded or not; `openssl rand -base64 32` makes one). It returns
// an error unless it decodes to exactly 32 bytes.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("key-encryption key is %d bytes, want %d (e.g. openssl rand -base64 32)", len(b), KEKSize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key-encryption key is not base64 (e.g. openssl rand -base64 32)")
}

// NewKEK returns a random key-encryption key, base64-encoded as ParseKEK
// reads it. It returns an error only if reading randomness fails.
func NewKEK() (string, error) {
	b := make([]byte, KEKSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key-encryption key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// kek encrypts private keys with AES-256-GCM. Each private key gets a fresh
// random nonce, and its kid is the additional data, so that a sealed key
// moved to another row does not decrypt.
type kek struct{ aead cipher.AEAD }

// newKEK returns the kek of a 32-byte key.
func newKEK(b []byte) (*kek, error) {
	if len(b) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(b), KEKSize)
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return &kek{aead: aead}, nil
}

// additionalData binds a sealed private key to its kid.
func additionalData(kid string) []byte { return []byte("bitgate signing key " + kid) }

// seal encrypts the private key of kid: nonce, then ciphertext and tag.
func (k *kek) seal(kid string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt signing key %s: %w", kid, err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, additionalData(kid)), nil
}

// open decrypts what seal returned for kid. It returns an error if the
// KEK is not the one that sealed it, or the data was changed.
func (k *kek) open(kid string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errors.New("encrypted private key is truncated")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], additionalData(kid))
	if err != nil {
		return nil, errors.New("cannot decrypt its private half: is JWT_KEY_ENCRYPTION_KEY the one every instance uses?")
	}
	return plain, nil
}
