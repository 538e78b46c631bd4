package graph_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
	"bitgate/internal/keys"
)

// TestJWKSVerifiesTokens verifies an access token with nothing but the
// published JWKS, in go-jose: what another service does.
func TestJWKSVerifiesTokens(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{EdDSA: true})
	u := c.SignUp(t)

	r := c.JWKS(t)
	require.Equal(t, "public, max-age=300", r.Header.Get("Cache-Control"))
	require.NotEmpty(t, r.Header.Get("ETag"))
	set := c.KeySet(t)
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	require.Equal(t, "EdDSA", k.Algorithm)
	require.Equal(t, "sig", k.Use)
	require.IsType(t, ed25519.PublicKey{}, k.Key, "an OKP Ed25519 key")
	require.True(t, k.IsPublic(), "only public keys are published")
	thumb, err := k.Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(thumb), k.KeyID, "kid is the RFC 7638 thumbprint")

	tok, err := josejwt.ParseSigned(u.Token, []jose.SignatureAlgorithm{jose.EdDSA})
	require.NoError(t, err)
	require.Len(t, tok.Headers, 1)
	found := set.Key(tok.Headers[0].KeyID)
	require.Len(t, found, 1, "the token's kid is in the JWKS")
	var claims josejwt.Claims
	var extra struct {
		SID  string `json:"sid"`
		Perm int    `json:"perm"`
	}
	require.NoError(t, tok.Claims(found[0].Key, &claims, &extra), "go-jose verifies the signature")
	f := c.Forger()
	require.NoError(t, claims.ValidateWithLeeway(josejwt.Expected{
		Issuer: f.Issuer, AnyAudience: josejwt.Audience{f.Audience}, Time: c.Clock.Now(),
	}, 30*time.Second))
	require.Equal(t, u.ID, claims.Subject)
	require.Equal(t, apitest.SessionID(t, u), extra.SID)
	require.Equal(t, apitest.Free, extra.Perm)

	// A tampered token fails go-jose's check too.
	forged := authtest.Tamper(t, u.Token, func(p map[string]any) { p["perm"] = apitest.Admin })
	tok, err = josejwt.ParseSigned(forged, []jose.SignatureAlgorithm{jose.EdDSA})
	require.NoError(t, err)
	require.Error(t, tok.Claims(found[0].Key, &claims))
}

// TestJWKSUnderHS256 publishes nothing: a shared secret is never served.
func TestJWKSUnderHS256(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	require.JSONEq(t, `{"keys":[]}`, string(c.JWKS(t).Body))
}

// TestEdDSAForgedTokens presents tokens an attacker can make against an
// EdDSA server knowing its public keys: each is UNAUTHENTICATED.
func TestEdDSAForgedTokens(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{EdDSA: true})
	u := c.SignUp(t)
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "control: the server's own token")
	claims := authtest.ClaimsOf(t, u.Token)
	kid := apitest.KIDOf(t, u.Token)
	set := c.KeySet(t)
	pub := set.Key(kid)[0].Key.(ed25519.PublicKey)
	x := base64.RawURLEncoding.EncodeToString(pub)
	_, attacker, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	attackerX := base64.RawURLEncoding.EncodeToString(attacker.Public().(ed25519.PublicKey))
	f := c.Forger()
	f.KID = kid
	otherKID := authtest.Forger{KID: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
	// The server's own private key, so that each case below is refused for
	// the one thing it changes.
	own, err := c.Keys.SigningKey(t.Context())
	require.NoError(t, err)
	require.Equal(t, kid, own.ID)
	signed := func(header map[string]any, key any) string {
		return authtest.SignRaw(t, header, claims, jwt.SigningMethodEdDSA, key)
	}
	require.Equal(t, u.ID, c.Me(t, signed(f.Header("EdDSA"), own.Private)).ID, "control: the construction below, unchanged")

	for _, tc := range []struct{ name, token string }{
		{"a kid not in the set", otherKID.SignWith(t, jwt.SigningMethodEdDSA, own.Private, claims)},
		{"our kid, another key", f.SignWith(t, jwt.SigningMethodEdDSA, attacker, claims)},
		{"HS256 with the public key as the secret", f.SignWith(t, jwt.SigningMethodHS256, []byte(pub), claims)},
		{"HS256 with the JWK's x as the secret", f.SignWith(t, jwt.SigningMethodHS256, []byte(x), claims)},
		{"HS256 with the server's HS256 test secret", f.Sign(t, claims)},
		{"alg none", f.Unsigned(t, "none", claims)},
		{"jku to the attacker's keys", signed(f.Header("EdDSA", "jku", "https://evil.example/jwks.json"), own.Private)},
		{"x5u to the attacker's certificate", signed(f.Header("EdDSA", "x5u", "https://evil.example/cert.pem"), own.Private)},
		{"the attacker's key embedded as jwk", signed(f.Header("EdDSA", "jwk", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": attackerX}), attacker)},
		{"a jwk header, even of our key", signed(f.Header("EdDSA", "jwk", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}), own.Private)},
		{"crit", signed(f.Header("EdDSA", "crit", []string{"exp"}), own.Private)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RequireCode(t, c.Do(t, tc.token, apitest.OpMe, nil), "UNAUTHENTICATED")
		})
	}

	// And an HS256 server refuses an EdDSA token whatever its kid says.
	hs := apitest.New(t)
	v := hs.SignUp(t)
	edToken := hs.Forger().SignWith(t, jwt.SigningMethodEdDSA, attacker, authtest.ClaimsOf(t, v.Token))
	apitest.RequireCode(t, hs.Do(t, edToken, apitest.OpMe, nil), "UNAUTHENTICATED")
}

// TestKeyRotationUnderLoad rotates the signing key while two instances on
// one database serve a steady load of queries and refreshes: no request
// fails, tokens of the old key keep working after the new one takes over,
// and both instances sign with the new key once it is due.
func TestKeyRotationUnderLoad(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{EdDSA: true})
	b := a.NewInstance(t)
	instances := []*apitest.Client{a, b}
	advance := a.Clock.Advance // b shares a's clock
	oldKID := apitest.KIDOf(t, a.SignUp(t).Token)

	const workers = 4
	var (
		stop     = make(chan struct{})
		progress = make(chan struct{}, 64)
		failures atomic.Int64
		mu       sync.Mutex
		seen     = map[string]bool{} // kids of the tokens the workers got
		problems []string
		wg       sync.WaitGroup
	)
	fail := func(what string, r *apitest.Response, err error) {
		failures.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 5 {
			problems = append(problems, fmt.Sprintf("%s: %v %s", what, err, r.Body))
		}
	}
	for w := range workers {
		u := instances[w%2].SignUp(t)
		wg.Go(func() {
			token, refresh := u.Token, u.RefreshToken
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := instances[(w+i)%2]
				if i%3 == 2 { // refresh on the instance that did not sign
					r, err := c.Post("", apitest.OpRefresh, apitest.Vars{"refreshToken": refresh})
					var out struct{ Refresh apitest.AuthPayload }
					if err != nil || len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
						fail("refresh", r, err)
						return
					}
					token, refresh = out.Refresh.Token, out.Refresh.RefreshToken
					if parsed, _, err := jwt.NewParser().ParseUnverified(token, &auth.Claims{}); err == nil {
						mu.Lock()
						seen[fmt.Sprint(parsed.Header["kid"])] = true
						mu.Unlock()
					}
				} else if r, err := c.Post(token, apitest.OpMe, nil); err != nil || len(r.Errors) > 0 {
					fail("me", r, err)
				}
				select {
				case progress <- struct{}{}:
				default: // the test is not counting now
				}
			}
		})
	}
	// wait lets the workers make n more requests.
	wait := func(n int) {
		for range n {
			<-progress
		}
	}

	wait(40)
	next, err := a.Keys.Rotate(t.Context())
	require.NoError(t, err)
	wait(40)
	advance(keys.DefaultRefresh) // B reloads and publishes the pending key
	wait(40)
	require.Contains(t, apitest.KIDs(t, b.KeySet(t)), next.ID, "B publishes A's pending key")
	advance(keys.DefaultPublishAhead - keys.DefaultRefresh) // the new key is due
	wait(80)
	close(stop)
	wg.Wait()

	require.Zero(t, failures.Load(), "failed requests during the rotation: %v", problems)
	require.True(t, seen[oldKID] && seen[next.ID], "the workers got tokens of both keys: %v", seen)
	for _, c := range instances {
		u := c.SignUp(t)
		require.Equal(t, next.ID, apitest.KIDOf(t, u.Token), "every instance signs with the new key")
		require.ElementsMatch(t, []string{oldKID, next.ID}, apitest.KIDs(t, c.KeySet(t)), "the old key stays published")
	}
}

// TestInstancesSeeEachOthersKeys runs two instances on one database: a key
// rotated in by one is published by the other after its next reload, and a
// token signed with a key the other has not loaded yet makes it reload at
// once rather than fail.
func TestInstancesSeeEachOthersKeys(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{EdDSA: true})
	// B reloads only once an hour, so it learns of new keys from tokens.
	b := apitest.New(t, apitest.Options{EdDSA: true, DatabaseURL: a.DatabaseURL, Keys: keys.Options{Refresh: time.Hour}})
	u := a.SignUp(t)
	first := apitest.KIDOf(t, u.Token)
	require.Equal(t, u.ID, b.Me(t, u.Token).ID)

	next, err := a.Keys.Rotate(t.Context())
	require.NoError(t, err)
	require.NotContains(t, apitest.KIDs(t, b.KeySet(t)), next.ID, "B has not reloaded")
	for _, c := range []*apitest.Client{a, b} {
		c.Clock.Advance(keys.DefaultPublishAhead)
	}
	v := a.SignUp(t)
	require.Equal(t, next.ID, apitest.KIDOf(t, v.Token), "A signs with the new key")
	require.Equal(t, v.ID, b.Me(t, v.Token).ID, "B verifies a token of a key it had not loaded")
	require.Contains(t, apitest.KIDs(t, b.KeySet(t)), next.ID, "B has loaded it now")
	require.Equal(t, u.ID, b.Me(t, u.Token).ID, "the first key still verifies")
	require.Equal(t, first, apitest.KIDOf(t, u.Token))
}

// TestHS256SecretRotation restarts on the same database with a new secret
// and the old one as JWT_SECRET_PREVIOUS: tokens of the old secret keep
// working for one access-token lifetime, then not even a long-lived one
// does; refreshed tokens carry the new secret's kid.
func TestHS256SecretRotation(t *testing.T) {
	t.Parallel()
	before := apitest.New(t)
	u := before.SignUp(t)
	oldSecret := before.Forger().Key
	newSecret := []byte("the next secret, 32 bytes or more!!")
	log := &apitest.Log{}
	after := apitest.New(t, apitest.Options{DatabaseURL: before.DatabaseURL, Secret: newSecret, PreviousSecret: oldSecret, Log: log})
	require.Contains(t, log.String(), "previous HS256 secret verifies access tokens for one access-token lifetime")
	require.Contains(t, log.String(), auth.HMACKeyID(oldSecret), "the log names the previous secret by its kid")
	require.NotContains(t, log.String(), string(oldSecret))

	require.Equal(t, u.ID, after.Me(t, u.Token).ID, "a token of the previous secret")
	v := after.Refresh(t, u.RefreshToken)
	require.Equal(t, auth.HMACKeyID(newSecret), apitest.KIDOf(t, v.Token))
	require.Equal(t, u.ID, after.Me(t, v.Token).ID)
	apitest.RequireCode(t, before.Do(t, v.Token, apitest.OpMe, nil), "UNAUTHENTICATED") // the old instance knows no new secret

	// A token of the old secret that would live two hours (forged: the
	// server never issues one) works until one lifetime after the first
	// start with the new secret; a later restart or another instance with
	// the same pair does not move that moment.
	long := before.Forger()
	long.TTL, long.Now = 2*time.Hour, after.Clock.Now
	w := after.SignIn(t, u.Email, apitest.Password)
	forged := long.Sign(t, long.Claims(u.ID, apitest.SessionID(t, w)))
	require.Equal(t, u.ID, after.Me(t, forged).ID)
	after.Clock.Advance(10 * time.Minute)
	restarted := after.NewInstance(t)
	require.Equal(t, u.ID, restarted.Me(t, forged).ID)
	after.Clock.Advance(5*time.Minute + auth.Leeway)
	for _, c := range []*apitest.Client{after, restarted} {
		apitest.RequireCode(t, c.Do(t, forged, apitest.OpMe, nil), "UNAUTHENTICATED")
	}
	log.Take()
	after.NewInstance(t)
	require.Contains(t, log.String(), "previous HS256 secret no longer verifies", "a start past the window says to remove JWT_SECRET_PREVIOUS")

	// Without JWT_SECRET_PREVIOUS the old secret's tokens fail at once.
	plain := apitest.New(t, apitest.Options{DatabaseURL: before.DatabaseURL, Secret: newSecret})
	old := before.SignIn(t, u.Email, apitest.Password)
	require.Equal(t, u.ID, before.Me(t, old.Token).ID, "control")
	apitest.RequireCode(t, plain.Do(t, old.Token, apitest.OpMe, nil), "UNAUTHENTICATED")
}
