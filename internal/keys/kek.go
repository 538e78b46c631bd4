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

// Sealer encrypts small secrets with a key-encryption key, AES-256-GCM:
// the signing keys' private halves here, TOTP secrets in internal/account.
// Each secret gets a fresh random nonce, and the purpose and the id of its
// row are the additional data, so that a sealed secret moved to another
// row, or to another kind of secret, does not decrypt.
type Sealer struct {
	aead    cipher.AEAD
	purpose string
	setting string
}

// NewSealer returns the Sealer of a 32-byte key for secrets of purpose
// (such as "signing key"); setting names the environment variable the key
// comes from, for the error of a secret that does not decrypt. It returns
// an error if the key is not 32 bytes.
func NewSealer(kek []byte, purpose, setting string) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return &Sealer{aead: aead, purpose: purpose, setting: setting}, nil
}

// additionalData binds a sealed secret to its purpose and its id.
func (s *Sealer) additionalData(id string) []byte { return []byte("bitgate " + s.purpose + " " + id) }

// Seal encrypts the secret of id: nonce, then ciphertext and tag. It
// returns an error only if reading randomness fails.
func (s *Sealer) Seal(id string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt %s %s: %w", s.purpose, id, err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, s.additionalData(id)), nil
}

// Open decrypts what Seal returned for id. It returns an error if the key
// is not the one that sealed it, or the data was changed or moved.
func (s *Sealer) Open(id string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("encrypted %s is truncated", s.purpose)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], s.additionalData(id))
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt the %s: is %s the one every instance uses?", s.purpose, s.setting)
	}
	return plain, nil
}
