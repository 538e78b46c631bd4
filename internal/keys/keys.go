// Package keys keeps the Ed25519 keys that sign access tokens when
// JWT_ALG=EdDSA. They live in the database, so that every instance signs
// and verifies with one set, with their private halves encrypted under a
// key-encryption key (KEK) from the environment. Each instance caches the
// set and reloads it every minute, and at once (at most once a second) for
// a kid it does not know. A rotation adds a key that is published first and
// signs only later; the key it replaces keeps verifying until every token
// it signed has expired. The public keys are served as a JWKS (RFC 7517,
// RFC 8037).
package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"bitgate/ent"
	"bitgate/internal/auth"
)

// Timings of the key set.
const (
	// DefaultRefresh is how often an instance reloads the key set.
	DefaultRefresh = time.Minute
	// DefaultPublishAhead is how long a rotated key is published before it
	// signs: longer than JWKSMaxAge plus DefaultRefresh, so that every
	// instance, and every verifier that honours the JWKS's cache headers,
	// knows the key before the first token it signs.
	DefaultPublishAhead = 10 * time.Minute
	// JWKSMaxAge is how long others may cache the JWKS.
	JWKSMaxAge = 5 * time.Minute
	// minReload bounds the reloads that unknown kids and failing reloads
	// cause: at most one a second, whatever a flood of forged tokens asks.
	minReload = time.Second
	// loadTimeout bounds one reload.
	loadTimeout = 5 * time.Second
)

// Options configure a Store.
type Options struct {
	// AccessTTL is the lifetime of access tokens: a replaced key verifies
	// for AccessTTL plus auth.Leeway after it stopped signing. Required.
	AccessTTL time.Duration
	// PublishAhead is how long a rotated key is published before it signs;
	// zero means DefaultPublishAhead.
	PublishAhead time.Duration
	// Refresh is how often the set is reloaded; zero means DefaultRefresh.
	Refresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives reload failures; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the database-backed auth.KeySet of EdDSA. It is safe for
// concurrent use.
type Store struct {
	client *ent.Client
	kek    *Sealer
	opts   Options
	log    *slog.Logger

	snap   atomic.Pointer[snapshot]
	reload sync.Mutex // held while reloading
}

var _ auth.KeySet = (*Store)(nil)

// snapshot is the key set as last loaded.
type snapshot struct {
	keys  []*key // by active_from, then id
	byID  map[string]int
	tried time.Time // when a reload last ran, successful or not
	fresh time.Time // when the next periodic reload is due
	err   error     // why the last reload failed, if it did
}

// key is one key of a snapshot.
type key struct {
	info    Info
	public  ed25519.PublicKey
	sealed  []byte             // the private half, encrypted
	private ed25519.PrivateKey // decrypted for the current and pending keys only
	err     error              // why private is missing
}

// Open returns the key set in client, whose private keys are encrypted
// with kekBytes (32 bytes, see ParseKEK). When no key can sign now (first
// start, or every key expired), it creates one that signs at once. It
// returns an error if the KEK is not 32 bytes, the database fails, or the
// current key cannot be decrypted with this KEK.
func Open(ctx context.Context, client *ent.Client, kekBytes []byte, opts Options) (*Store, error) {
	if opts.AccessTTL <= 0 {
		return nil, errors.New("signing keys: access token lifetime must be positive")
	}
	if opts.PublishAhead <= 0 {
		opts.PublishAhead = DefaultPublishAhead
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	k, err := NewSealer(kekBytes, "signing key", "JWT_KEY_ENCRYPTION_KEY")
	if err != nil {
		return nil, err
	}
	s := &Store{client: client, kek: k, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	sn, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	if sn.current(s.now()) == nil {
		if _, err := s.create(ctx, s.now()); err != nil {
			return nil, err
		}
		if sn, err = s.load(ctx); err != nil {
			return nil, err
		}
	}
	s.snap.Store(sn)
	if _, err := s.SigningKey(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) now() time.Time { return s.opts.Now() }

// Algorithm returns EdDSA.
func (s *Store) Algorithm() string { return jwt.SigningMethodEdDSA.Alg() }

// SigningKey returns the key that signs now: of the keys whose active_from
// has come, the latest. It returns an error if there is none or its
// private half could not be decrypted.
func (s *Store) SigningKey(ctx context.Context) (auth.Key, error) {
	now := s.now()
	k := s.snapshot(ctx, now).current(now)
	switch {
	case k == nil:
		return auth.Key{}, errors.New("no signing key is active: run bitgate keys rotate")
	case k.private == nil:
		return auth.Key{}, fmt.Errorf("signing key %s: %w", k.info.ID, k.err)
	}
	return auth.Key{ID: k.info.ID, Method: jwt.SigningMethodEdDSA, Private: k.private, Public: k.public}, nil
}

// VerificationKey returns the public key named kid if it verifies now. A
// kid the cached set does not hold reloads the set first, unless a reload
// ran in the last second. It returns an error wrapping auth.ErrUnknownKey
// for a kid that is not a verifying key, and another error for a kid it
// does not hold while the last reload failed.
func (s *Store) VerificationKey(ctx context.Context, kid string) (auth.Key, error) {
	if !validKID(kid) {
		return auth.Key{}, fmt.Errorf("%w: malformed kid", auth.ErrUnknownKey)
	}
	now := s.now()
	sn := s.snapshot(ctx, now)
	if _, ok := sn.byID[kid]; !ok && now.Sub(sn.tried) >= minReload {
		var err error
		if sn, err = s.reloadFor(ctx, sn); err != nil {
			return auth.Key{}, err
		}
	}
	i, ok := sn.byID[kid]
	if !ok && sn.err != nil {
		return auth.Key{}, fmt.Errorf("kid %q is not among the cached keys, and they cannot be reloaded: %w", kid, sn.err)
	}
	if !ok || !now.Before(sn.verifiesUntil(i, s.opts)) {
		return auth.Key{}, fmt.Errorf("%w: %q", auth.ErrUnknownKey, kid)
	}
	return auth.Key{ID: kid, Method: jwt.SigningMethodEdDSA, Public: sn.keys[i].public}, nil
}

// snapshot returns the cached set, reloading it first when it is due and
// no other caller is reloading it already (those use the set they have).
func (s *Store) snapshot(ctx context.Context, now time.Time) *snapshot {
	sn := s.snap.Load()
	if now.Before(sn.fresh) || !s.reload.TryLock() {
		return sn
	}
	defer s.reload.Unlock()
	if sn = s.snap.Load(); now.Before(sn.fresh) {
		return sn // reloaded while we took the lock
	}
	sn, _ = s.reloadLocked(ctx, sn) // a failure is logged; the old set stays
	return sn
}

// reloadFor reloads the set because it lacks a kid, unless another caller
// reloaded it since seen, or a reload ran in the last second.
func (s *Store) reloadFor(ctx context.Context, seen *snapshot) (*snapshot, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	sn := s.snap.Load()
	if sn != seen || s.now().Sub(sn.tried) < minReload {
		return sn, nil
	}
	return s.reloadLocked(ctx, sn)
}

// reloadLocked loads the set and caches it; on failure it keeps the old
// set, and tries again after minReload. The caller holds s.reload.
func (s *Store) reloadLocked(ctx context.Context, old *snapshot) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	sn, err := s.load(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "reload signing keys; keeping the cached ones", slog.Any("error", err))
		now := s.now()
		retry := *old
		retry.tried, retry.fresh, retry.err = now, now.Add(minReload), err
		s.snap.Store(&retry)
		return &retry, err
	}
	s.snap.Store(sn)
	return sn, nil
}

// load reads every key from the database and decrypts the private halves
// of the current and pending ones.
func (s *Store) load(ctx context.Context) (*snapshot, error) {
	rows, err := s.client.SigningKey.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	now := s.now()
	sn := &snapshot{byID: make(map[string]int, len(rows)), tried: now, fresh: now.Add(s.opts.Refresh)}
	for _, r := range rows {
		if len(r.PublicKey) != ed25519.PublicKeySize || r.Algorithm != s.Algorithm() {
			s.log.WarnContext(ctx, "skipping a signing key that is not Ed25519", slog.String("kid", r.ID))
			continue
		}
		sn.keys = append(sn.keys, &key{
			info:   Info{ID: r.ID, Algorithm: r.Algorithm, CreatedAt: r.CreatedAt, ActiveFrom: r.ActiveFrom},
			public: ed25519.PublicKey(r.PublicKey),
			sealed: r.PrivateKey,
		})
	}
	slices.SortFunc(sn.keys, func(a, b *key) int {
		if c := a.info.ActiveFrom.Compare(b.info.ActiveFrom); c != 0 {
			return c
		}
		return strings.Compare(a.info.ID, b.info.ID)
	})
	cur := sn.currentIndex(now)
	for i, k := range sn.keys {
		sn.byID[k.info.ID] = i
		if i < cur {
			continue // replaced: it only verifies
		}
		seed, err := s.kek.Open(k.info.ID, k.sealed)
		if err != nil {
			k.err = err
			continue
		}
		k.private = ed25519.NewKeyFromSeed(seed)
		if !k.private.Public().(ed25519.PublicKey).Equal(k.public) {
			k.private, k.err = nil, errors.New("its private half does not match its public key")
		}
	}
	return sn, nil
}

// currentIndex returns the index of the key that signs at now: the last one
// whose active_from has come; -1 if none has.
func (sn *snapshot) currentIndex(now time.Time) int {
	cur := -1
	for i, k := range sn.keys {
		if !k.info.ActiveFrom.After(now) {
			cur = i
		}
	}
	return cur
}

// current returns the key that signs at now, or nil.
func (sn *snapshot) current(now time.Time) *key {
	if i := sn.currentIndex(now); i >= 0 {
		return sn.keys[i]
	}
	return nil
}

// verifiesUntil returns when the key at index i stops verifying: AccessTTL
// plus leeway after it stopped signing (see retiredAt), or never for the
// last key.
func (sn *snapshot) verifiesUntil(i int, opts Options) time.Time {
	if i == len(sn.keys)-1 {
		return farFuture
	}
	return retiredAt(sn.keys[i+1].info, opts).Add(opts.AccessTTL + auth.Leeway)
}

// farFuture stands for "no end".
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// retiredAt returns when the key before next stopped signing on every
// instance: when next became current, or, for a key created to sign at
// once, one refresh after it was created, by when every instance has
// loaded it.
func retiredAt(next Info, opts Options) time.Time {
	loaded := next.CreatedAt.Add(opts.Refresh)
	if loaded.After(next.ActiveFrom) {
		return loaded
	}
	return next.ActiveFrom
}

// create generates a key pair, stores it encrypted, and returns its Info.
// It signs from activeFrom on.
func (s *Store) create(ctx context.Context, activeFrom time.Time) (Info, error) {
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Info{}, fmt.Errorf("generate signing key: %w", err)
	}
	kid := thumbprint(public)
	sealed, err := s.kek.Seal(kid, private.Seed())
	if err != nil {
		return Info{}, err
	}
	r, err := s.client.SigningKey.Create().
		SetID(kid).
		SetAlgorithm(s.Algorithm()).
		SetPublicKey(public).
		SetPrivateKey(sealed).
		SetCreatedAt(s.now()).
		SetActiveFrom(activeFrom).
		Save(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("store signing key %s: %w", kid, err)
	}
	return Info{ID: r.ID, Algorithm: r.Algorithm, CreatedAt: r.CreatedAt, ActiveFrom: r.ActiveFrom, State: StatePending}, nil
}
