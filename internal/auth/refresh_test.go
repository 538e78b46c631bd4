package auth

import (
	"encoding/base64"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewRefreshToken(t *testing.T) {
	hexRe := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := make(map[string]bool)
	hashes := make(map[string]bool)
	for range 1000 {
		tok, hash, err := NewRefreshToken()
		require.NoError(t, err)
		require.Len(t, tok, 43, "NewRefreshToken() = %q, want 43 chars", tok)
		raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
		require.NoError(t, err, "decode %q", tok)
		require.Len(t, raw, 32)
		require.False(t, seen[tok], "NewRefreshToken() = %q twice", tok)
		seen[tok] = true
		require.Equal(t, HashRefreshToken(tok), hash, "hash of %q", tok)
		require.Regexp(t, hexRe, hash)
		require.False(t, hashes[hash], "hash %q twice", hash)
		hashes[hash] = true
	}
}

func TestHashRefreshToken(t *testing.T) {
	tests := []struct {
		token, want string
	}{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			got := HashRefreshToken(tt.token)
			require.Equal(t, tt.want, got, "HashRefreshToken(%q) = %v, want %v", tt.token, got, tt.want)
			require.Equal(t, got, HashRefreshToken(tt.token), "HashRefreshToken(%q) not deterministic", tt.token)
		})
	}
	require.NotEqual(t, HashRefreshToken("a"), HashRefreshToken("b"))
}
