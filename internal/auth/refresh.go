package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// refreshTokenBytes is the number of random bytes in a refresh token.
const refreshTokenBytes = 32

// NewRefreshToken returns a random refresh token (32 bytes from crypto/rand,
// base64 RawURL encoded, 43 characters) and its hash for storage, as computed
// by HashRefreshToken. It returns an error only if reading randomness fails.
func NewRefreshToken() (token string, hash string, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken returns the storage hash of a refresh token: the hex
// encoded SHA-256 of the token string (64 characters). A fast hash is right
// here because the token carries 256 random bits.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
