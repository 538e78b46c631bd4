package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// JWK is a public key as RFC 7517 and RFC 8037 write it: an Ed25519 key is
// of type OKP, with its 32 bytes base64url-encoded in x.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// thumbprint returns the RFC 7638 thumbprint of an Ed25519 public key:
// the base64url SHA-256 of its required members in lexical order.
func thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validKID reports whether kid could be a thumbprint: 43 base64url
// characters. Anything else is refused before any lookup.
func validKID(kid string) bool {
	if len(kid) != 43 {
		return false
	}
	for _, c := range []byte(kid) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// JWKS returns the public keys that verify now: the current key, the keys
// waiting to sign, and the replaced keys whose tokens may not all have
// expired.
func (s *Store) JWKS(ctx context.Context) JWKS {
	now := s.now()
	sn := s.snapshot(ctx, now)
	set := JWKS{Keys: []JWK{}}
	for i, k := range sn.keys {
		if now.Before(sn.verifiesUntil(i, s.opts)) {
			set.Keys = append(set.Keys, JWK{
				Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.public),
				Kid: k.info.ID, Alg: s.Algorithm(), Use: "sig",
			})
		}
	}
	return set
}

// Handler serves GET /.well-known/jwks.json: the JWKS of s, or an empty set
// when s is nil (HS256 publishes nothing). Anyone may fetch and cache it
// for JWKSMaxAge, from any origin; an If-None-Match with its ETag answers
// 304.
func Handler(s *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := JWKS{Keys: []JWK{}}
		if s != nil {
			set = s.JWKS(r.Context())
		}
		body, err := json.Marshal(set)
		if err != nil {
			http.Error(w, "cannot encode the key set", http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(body)
		etag := fmt.Sprintf(`"%x"`, sum[:12])
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(JWKSMaxAge/time.Second)))
		h.Set("ETag", etag)
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	})
}
