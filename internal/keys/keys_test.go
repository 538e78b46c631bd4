package keys_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
	"bitgate/internal/auth"
	"bitgate/internal/database"
	"bitgate/internal/keys"
)

func TestMain(m *testing.M) { apitest.Main(m) }

const ttl = 15 * time.Minute

var testKEK = bytes.Repeat([]byte{7}, keys.KEKSize)

// db is a database for one test, with a count of the statements run on it.
type db struct {
	url     string
	client  *ent.Client
	queries atomic.Int64
}

// newDB opens a fresh database (SQLite, or PostgreSQL in that pass).
func newDB(t *testing.T) *db {
	t.Helper()
	return openDB(t, apitest.FreshDatabase(t))
}

// openDB opens a client on url that counts its statements.
func openDB(t *testing.T, url string) *db {
	t.Helper()
	d := &db{url: url}
	opened, err := database.Open(t.Context(), url, database.Options{
		EntOptions: []ent.Option{ent.Debug(), ent.Log(func(...any) { d.queries.Add(1) })},
	})
	require.NoError(t, err)
	t.Cleanup(func() { opened.Close() })
	d.client = opened.Client
	return d
}

// open opens a store on d with the clock c.
func open(t *testing.T, d *db, c *apitest.Clock) *keys.Store {
	t.Helper()
	s, err := keys.Open(t.Context(), d.client, testKEK, keys.Options{AccessTTL: ttl, Now: c.Now})
	require.NoError(t, err, "keys.Open")
	return s
}

// requireVerifies requires that s verifies kid (or, with ok false, refuses it as unknown).
func requireVerifies(t *testing.T, s *keys.Store, kid string, ok bool) {
	t.Helper()
	_, err := s.VerificationKey(t.Context(), kid)
	if ok {
		require.NoError(t, err, "VerificationKey(%s)", kid)
	} else {
		require.ErrorIs(t, err, auth.ErrUnknownKey, "VerificationKey(%s)", kid)
	}
}

// signingKID returns the kid s signs with now.
func signingKID(t *testing.T, s *keys.Store) string {
	t.Helper()
	k, err := s.SigningKey(t.Context())
	require.NoError(t, err)
	return k.ID
}

// TestFirstStart creates one key, encrypted at rest, named by its RFC 7638
// thumbprint, and published as an OKP JWK.
func TestFirstStart(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	k, err := s.SigningKey(t.Context())
	require.NoError(t, err)
	require.Equal(t, "EdDSA", k.Method.Alg())
	priv := k.Private.(ed25519.PrivateKey)
	pub := k.Public.(ed25519.PublicKey)

	row, err := d.client.SigningKey.Get(t.Context(), k.ID)
	require.NoError(t, err)
	require.Equal(t, []byte(pub), row.PublicKey)
	require.NotContains(t, string(row.PrivateKey), string(priv.Seed()), "the private key is stored in clear")
	require.Len(t, row.PrivateKey, 12+ed25519.SeedSize+16, "nonce, sealed seed and tag")

	set := s.JWKS(t.Context())
	require.Equal(t, []keys.JWK{{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: k.ID, Alg: "EdDSA", Use: "sig"}}, set.Keys)

	again := open(t, d, c)
	require.Equal(t, k.ID, signingKID(t, again), "a second start made another key")
	n, err := d.client.SigningKey.Query().Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestThumbprintVector checks the kid against RFC 8037's example key
// (appendix A.3): kid is the RFC 7638 thumbprint.
func TestThumbprintVector(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	require.Equal(t, want, keys.Thumbprint(ed25519.PublicKey(x)))
}

// TestWrongKEK refuses to start with a KEK that did not encrypt the
// current key, and a sealed key moved to another row does not decrypt.
func TestWrongKEK(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	other := bytes.Repeat([]byte{8}, keys.KEKSize)
	_, err := keys.Open(t.Context(), d.client, other, keys.Options{AccessTTL: ttl, Now: c.Now})
	require.ErrorContains(t, err, "JWT_KEY_ENCRYPTION_KEY")

	_, err = keys.Open(t.Context(), d.client, testKEK[:31], keys.Options{AccessTTL: ttl, Now: c.Now})
	require.ErrorContains(t, err, "32")

	// Move the current key's sealed private half to a newer row with
	// another kid: it must not decrypt there.
	cur := signingKID(t, s)
	row, err := d.client.SigningKey.Get(t.Context(), cur)
	require.NoError(t, err)
	next, err := s.Rotate(t.Context())
	require.NoError(t, err)
	require.NoError(t, d.client.SigningKey.DeleteOneID(next.ID).Exec(t.Context()))
	require.NoError(t, d.client.SigningKey.Create().SetID(next.ID).SetAlgorithm("EdDSA").
		SetPublicKey(row.PublicKey).SetPrivateKey(row.PrivateKey).SetActiveFrom(next.ActiveFrom).Exec(t.Context()))
	c.Advance(keys.DefaultPublishAhead)
	_, err = keys.Open(t.Context(), d.client, testKEK, keys.Options{AccessTTL: ttl, Now: c.Now})
	require.ErrorContains(t, err, "cannot decrypt")
}

// TestRotation walks a key through its life: published at once, signing
// after PublishAhead, verifying for the access-token lifetime plus leeway
// after it is replaced, then gone from the JWKS and deleted by the next
// rotation.
func TestRotation(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	old := signingKID(t, s)

	next, err := s.Rotate(t.Context())
	require.NoError(t, err)
	require.Equal(t, keys.StatePending, next.State)
	require.Equal(t, old, signingKID(t, s), "a rotated key signs at once")
	require.ElementsMatch(t, []string{old, next.ID}, apitest.KIDs(t, s.JWKS(t.Context())), "the new key is published at once")
	requireVerifies(t, s, next.ID, true)

	c.Advance(keys.DefaultPublishAhead)
	require.Equal(t, next.ID, signingKID(t, s), "the new key signs after PublishAhead")
	requireVerifies(t, s, old, true)
	list, err := s.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, keys.StateRetired, list[0].State)
	require.WithinDuration(t, next.ActiveFrom.Add(ttl+auth.Leeway), list[0].VerifiesUntil, time.Millisecond)
	require.Equal(t, keys.StateCurrent, list[1].State)
	require.True(t, list[1].VerifiesUntil.IsZero())

	c.Advance(ttl + auth.Leeway - time.Second)
	requireVerifies(t, s, old, true)
	c.Advance(time.Second)
	requireVerifies(t, s, old, false)
	require.Equal(t, []string{next.ID}, apitest.KIDs(t, s.JWKS(t.Context())), "an expired key is no longer published")

	third, err := s.Rotate(t.Context())
	require.NoError(t, err)
	ids, err := d.client.SigningKey.Query().IDs(t.Context())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{next.ID, third.ID}, ids, "Rotate deletes expired keys")
}

// TestInstancesShareKeys runs two stores on one database: a key one of
// them rotates in is picked up by the other on its periodic reload, and a
// token naming a kid the other has not loaded yet makes it reload at once.
func TestInstancesShareKeys(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	a := open(t, d, c)
	b := open(t, openDB(t, d.url), c)
	require.Equal(t, signingKID(t, a), signingKID(t, b))

	next, err := a.Rotate(t.Context())
	require.NoError(t, err)
	c.Advance(keys.DefaultRefresh)
	require.Contains(t, apitest.KIDs(t, b.JWKS(t.Context())), next.ID, "B publishes A's new key after one refresh")
	c.Advance(keys.DefaultPublishAhead - keys.DefaultRefresh)
	require.Equal(t, next.ID, signingKID(t, a))
	require.Equal(t, next.ID, signingKID(t, b), "both switch at the key's active_from")

	// A key B has not loaded: B reloads for it at once.
	c.Advance(time.Second)
	b.JWKS(t.Context()) // B's set is now fresh for another minute
	c.Advance(time.Second)
	third, err := a.Rotate(t.Context())
	require.NoError(t, err)
	requireVerifies(t, b, third.ID, true)
}

// TestUnknownKIDFlood sends many tokens with made-up kids: they cost at
// most one database reload a second, and a malformed kid costs none.
func TestUnknownKIDFlood(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	made := func(i int) string { // well-formed: 43 base64url characters
		return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, 32))
	}
	c.Advance(time.Second)
	before := d.queries.Load()
	errs := make([]error, 200)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.VerificationKey(context.Background(), made(i)) })
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, auth.ErrUnknownKey)
	}
	require.Equal(t, int64(1), d.queries.Load()-before, "200 unknown kids at once: reloads")

	before = d.queries.Load()
	for _, kid := range []string{"", "short", strings.Repeat("a", 44), strings.Repeat("!", 43), "hs256-AAAAAAAAAAAAAAAA"} {
		c.Advance(time.Second)
		requireVerifies(t, s, kid, false)
	}
	require.Equal(t, int64(0), d.queries.Load()-before, "malformed kids: reloads")

	c.Advance(time.Second)
	before = d.queries.Load()
	requireVerifies(t, s, made(1), false)
	require.Equal(t, int64(1), d.queries.Load()-before, "a second later, one more reload")
}

// TestReloadFailureKeepsKeys closes the database: the cached keys keep
// signing and verifying, and reloads are tried at most once a second.
func TestReloadFailureKeepsKeys(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	kid := signingKID(t, s)
	require.NoError(t, d.client.Close())
	c.Advance(keys.DefaultRefresh)
	require.Equal(t, kid, signingKID(t, s), "signing with the cached key")
	requireVerifies(t, s, kid, true)
	_, err := s.VerificationKey(t.Context(), base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	require.Error(t, err)
	require.NotErrorIs(t, err, auth.ErrUnknownKey, "a kid not loaded while reloads fail is no verdict on the token")
	c.Advance(time.Second)
	require.Equal(t, kid, signingKID(t, s), "still signing after the next failed reload")
}

// TestConcurrentFirstStart starts two stores on an empty database at once:
// whichever keys they made, each verifies the other's.
func TestConcurrentFirstStart(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	other := openDB(t, d.url)
	var a, b *keys.Store
	var wg sync.WaitGroup
	wg.Go(func() { a = open(t, d, c) })
	wg.Go(func() { b = open(t, other, c) })
	wg.Wait()
	c.Advance(time.Second)
	ka, kb := signingKID(t, a), signingKID(t, b)
	requireVerifies(t, a, kb, true)
	requireVerifies(t, b, ka, true)
	// A first key made by the loser of the race keeps verifying until
	// every instance has loaded the winner and the lifetime has passed.
	c.Advance(keys.DefaultRefresh + ttl)
	requireVerifies(t, a, kb, true)
	requireVerifies(t, b, ka, true)
}

// TestKeyActiveAtOnce adds a key that signs as soon as it is stored (two
// instances' first starts racing): the key it replaces verifies until one
// refresh after it was stored, by when every instance has stopped signing
// with it, plus the token lifetime and leeway.
func TestKeyActiveAtOnce(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	a := open(t, d, c)
	b := open(t, openDB(t, d.url), c)
	old := signingKID(t, b)
	c.Advance(time.Second)
	next, err := a.CreateAt(t.Context(), c.Now())
	require.NoError(t, err)
	c.Advance(keys.DefaultRefresh - 2*time.Second)
	require.Equal(t, old, signingKID(t, b), "B has not reloaded yet and still signs with the old key")
	c.Advance(time.Second)
	require.Equal(t, next.ID, signingKID(t, b), "B reloaded")
	// The old key was last used just now: it verifies a lifetime longer.
	c.Advance(ttl + auth.Leeway)
	requireVerifies(t, a, old, true)
	c.Advance(time.Second)
	requireVerifies(t, a, old, false)
}

// TestHandler serves the JWKS with cache headers and answers a matching
// If-None-Match with 304; without a store it serves an empty set.
func TestHandler(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	get := func(h http.Handler, etag string) *http.Response {
		req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}
	res := get(keys.Handler(s), "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=300", res.Header.Get("Cache-Control"))
	require.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
	var set keys.JWKS
	require.NoError(t, json.NewDecoder(res.Body).Decode(&set))
	require.Equal(t, []string{signingKID(t, s)}, apitest.KIDs(t, set))
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, get(keys.Handler(s), etag).StatusCode)

	_, err := s.Rotate(t.Context())
	require.NoError(t, err)
	res = get(keys.Handler(s), etag)
	require.Equal(t, http.StatusOK, res.StatusCode, "a new key changes the ETag")

	var empty map[string]any
	require.NoError(t, json.NewDecoder(get(keys.Handler(nil), "").Body).Decode(&empty))
	require.Equal(t, map[string]any{"keys": []any{}}, empty)
}

func TestParseKEK(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, 32) // '+' and '/' in standard base64
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"standard", base64.StdEncoding.EncodeToString(raw), true},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(raw), true},
		{"URL", base64.URLEncoding.EncodeToString(raw), true},
		{"URL unpadded with a newline", base64.RawURLEncoding.EncodeToString(raw) + "\n", true},
		{"31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), false},
		{"hex", strings.Repeat("ab", 32), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParseKEK(tc.in)
			if !tc.ok {
				require.Error(t, err, "ParseKEK(%q) = %x", tc.in, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, raw, got)
		})
	}
	k, err := keys.NewKEK()
	require.NoError(t, err)
	_, err = keys.ParseKEK(k)
	require.NoError(t, err, "NewKEK makes what ParseKEK reads")
}

// TestStoredKeyCheck skips rows that are not Ed25519 keys rather than
// trusting them.
func TestStoredKeyCheck(t *testing.T) {
	d, c := newDB(t), apitest.NewClock()
	s := open(t, d, c)
	require.NoError(t, d.client.SigningKey.Create().SetID(strings.Repeat("A", 43)).SetAlgorithm("HS256").
		SetPublicKey([]byte("secret")).SetPrivateKey([]byte("x")).SetActiveFrom(c.Now().Add(-time.Hour)).Exec(context.Background()))
	c.Advance(keys.DefaultRefresh)
	requireVerifies(t, s, strings.Repeat("A", 43), false)
	require.Len(t, s.JWKS(t.Context()).Keys, 1, "published keys")
}
