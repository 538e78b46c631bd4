package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// ErrBusy is returned when the Hasher pool and its wait queue are full.
var ErrBusy = errors.New("password hashing is busy")

// ErrUnusableHash is wrapped by the errors for a stored hash that is
// malformed, of an unknown scheme, or costlier to check than the bounds
// allow. Such a hash is refused before any hashing work.
var ErrUnusableHash = errors.New("unusable password hash")

// Current argon2id parameters (OWASP): 19 MiB, 2 passes, 1 lane.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on a stored hash, so that a planted or imported hash cannot make
// a sign-in much costlier than the server's own hashes (argon2id with
// 19 MiB and 2 passes). Checking a hash at the bounds takes about seven
// times as long as the server's own: 64 MiB and 4 passes, PHP's and
// Laravel's argon2id default. The bounds accept OWASP's five argon2id
// settings (7 to 46 MiB), RFC 9106's second recommendation and the default
// of argon2-cffi and node-argon2 (64 MiB, 3 passes, 4 lanes), libsodium's
// interactive limits, Spring Security's defaults, and bcrypt up to cost 12
// (the default of Rails, Laravel and Django; Go's and Spring's is 10).
const (
	maxArgonMemory  = 64 << 10           // KiB
	maxArgonWork    = maxArgonMemory * 4 // KiB × passes
	maxArgonThreads = 4
	maxArgonKeyLen  = 128
	minArgonKeyLen  = 4
	minArgonSaltLen = 8
	maxArgonSaltLen = 64
	maxBcryptCost   = 12
)

// argonParams are the decoded fields of an argon2id PHC string.
type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// HashPassword returns the argon2id hash of password with the current
// parameters and a fresh 16-byte salt, encoded as the PHC string
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>. It returns an error only if
// reading randomness fails. It is unpooled; servers should use Hasher.Hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks password against encoded, an argon2id PHC string or a
// bcrypt hash ($2a$, $2b$, $2y$). It reports needsRehash=true when the
// password matches but the hash is not argon2id with the current parameters.
// bcrypt reads only a password's first 72 bytes, so against a bcrypt hash a
// longer password never matches.
// It returns ErrMismatch on a wrong password, and an error wrapping
// ErrUnusableHash, without any hashing work, when CheckHash refuses encoded.
// It is unpooled; servers should use Hasher.Verify.
func VerifyPassword(encoded, password string) (needsRehash bool, err error) {
	if isBcrypt(encoded) {
		if err := checkBcrypt(encoded); err != nil {
			return false, fmt.Errorf("verify password: %w", err)
		}
		err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, ErrMismatch
		case err == nil && len(password) > bcryptMaxPassword:
			// bcrypt read only the first 72 bytes, so every password
			// sharing them would match: refuse it (after the same work)
			// rather than accept, and then rehash, a variant.
			return false, ErrMismatch
		case err != nil:
			return false, fmt.Errorf("verify password: %w: bcrypt: %w", ErrUnusableHash, err)
		}
		return true, nil
	}
	p, err := decodeArgon2id(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return false, ErrMismatch
	}
	current := p.memory == argonMemory && p.time == argonTime && p.threads == argonThreads &&
		len(p.salt) == argonSaltLen && len(p.key) == argonKeyLen
	return !current, nil
}

// CheckHash reports whether VerifyPassword can check passwords against
// encoded: an argon2id PHC string (v=19) or a bcrypt hash, well formed and
// within the package's cost bounds (argon2id: at most 64 MiB, 4 lanes and
// 64 MiB × 4 passes of work; bcrypt: cost at most 12). Use it on hashes
// imported from other systems before storing them. Returns an error
// wrapping ErrUnusableHash that says why not.
func CheckHash(encoded string) error {
	if isBcrypt(encoded) {
		return checkBcrypt(encoded)
	}
	_, err := decodeArgon2id(encoded)
	return err
}

// isBcrypt reports whether encoded names a bcrypt scheme.
func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// bcryptMaxPassword is how many bytes of a password bcrypt reads.
const bcryptMaxPassword = 72

// bcryptLen is the length of a bcrypt hash: "$2b$", two cost digits, "$",
// then 22 characters of salt and 31 of hash.
const bcryptLen = 60

// checkBcrypt checks a bcrypt hash's form and bounds its cost.
func checkBcrypt(encoded string) error {
	cost, err := bcrypt.Cost([]byte(encoded))
	switch {
	case err != nil:
		return fmt.Errorf("%w: bcrypt: %w", ErrUnusableHash, err)
	case cost > maxBcryptCost:
		return fmt.Errorf("%w: bcrypt cost %d above %d", ErrUnusableHash, cost, maxBcryptCost)
	case len(encoded) != bcryptLen || strings.ContainsFunc(encoded[7:], notBcryptBase64):
		return fmt.Errorf("%w: bcrypt: malformed salt or hash", ErrUnusableHash)
	}
	return nil
}

// notBcryptBase64 reports whether r is outside bcrypt's base64 alphabet.
func notBcryptBase64(r rune) bool {
	return !(r == '.' || r == '/' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9')
}

// decodeArgon2id strictly decodes an argon2id PHC string in the canonical
// form HashPassword writes, with parameters within the package bounds.
// Returns an error wrapping ErrUnusableHash.
func decodeArgon2id(encoded string) (*argonParams, error) {
	if !strings.HasPrefix(encoded, "$argon2id$") {
		return nil, fmt.Errorf("%w: unknown scheme", ErrUnusableHash)
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return nil, fmt.Errorf("%w: argon2id: want 6 $-separated fields", ErrUnusableHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: argon2id: unsupported version %q", ErrUnusableHash, fields[2])
	}
	var m, t, p uint64
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return nil, fmt.Errorf("%w: argon2id: want m,t,p parameters", ErrUnusableHash)
	}
	for i, dst := range []*uint64{&m, &t, &p} {
		name := "mtp"[i : i+1]
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return nil, fmt.Errorf("%w: argon2id: want parameter %s", ErrUnusableHash, name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return nil, fmt.Errorf("%w: argon2id: bad parameter %s=%q", ErrUnusableHash, name, v)
		}
		*dst = n
	}
	switch {
	case p < 1 || p > maxArgonThreads:
		return nil, fmt.Errorf("%w: argon2id: parallelism %d out of range 1-%d", ErrUnusableHash, p, maxArgonThreads)
	case m < 8*p || m > maxArgonMemory:
		return nil, fmt.Errorf("%w: argon2id: memory %d KiB out of range %d-%d", ErrUnusableHash, m, 8*p, maxArgonMemory)
	case t < 1 || m*t > maxArgonWork:
		return nil, fmt.Errorf("%w: argon2id: %d passes over %d KiB out of range (at most %d KiB × passes)", ErrUnusableHash, t, m, maxArgonWork)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: salt: %w", ErrUnusableHash, err)
	}
	if len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return nil, fmt.Errorf("%w: argon2id: salt length %d out of range", ErrUnusableHash, len(salt))
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: hash: %w", ErrUnusableHash, err)
	}
	if len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return nil, fmt.Errorf("%w: argon2id: hash length %d out of range", ErrUnusableHash, len(key))
	}
	return &argonParams{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// dummyHash is the argon2id hash VerifyDummy checks against, computed once
// on first use from a random password nobody knows.
var dummyHash = sync.OnceValues(func() (string, error) {
	return HashPassword(rand.Text())
})

// Hasher hashes and verifies passwords in a bounded pool: at most workers
// hashes run at once (argon2id takes 19 MiB each) and at most queue callers
// wait for a slot; past that, calls return ErrBusy at once. Waiting callers
// honour ctx cancellation. Hashes run on the pool's own goroutines, each on
// an OS thread of lowered scheduling priority, so that when the CPUs are
// busy the kernel serves other requests before sign-ins. A Hasher is safe
// for concurrent use.
type Hasher struct {
	slots   chan struct{}
	jobs    chan func()
	waiting atomic.Int64
	queue   int64
	closing sync.Once
	observe func(waited time.Duration, err error)
}

// HasherOption changes a Hasher.
type HasherOption func(*Hasher)

// ObserveWaits has the Hasher call observe once for every call that asks
// for a slot: with how long it waited and nil when it got one, with
// ErrBusy when the queue was full, or with ctx.Err() when its context
// ended first. observe must be quick and safe for concurrent use.
func ObserveWaits(observe func(waited time.Duration, err error)) HasherOption {
	return func(h *Hasher) { h.observe = observe }
}

// hashNice is the nice value of hashing threads: below every request.
const hashNice = 10

// NewHasher returns a Hasher running at most workers hashes at once
// (runtime.NumCPU() if workers < 1) with at most queue waiting callers (0 if
// queue < 0), changed by opts. Close stops its goroutines.
func NewHasher(workers, queue int, opts ...HasherOption) *Hasher {
	if workers < 1 {
		workers = runtime.NumCPU()
	}
	h := &Hasher{
		slots:   make(chan struct{}, workers),
		jobs:    make(chan func()),
		queue:   int64(max(queue, 0)),
		observe: func(time.Duration, error) {},
	}
	for _, opt := range opts {
		opt(h)
	}
	for range workers {
		go h.work()
	}
	return h
}

// work runs jobs on a thread of its own at lowered priority. The thread is
// never unlocked, so it ends with the goroutine and its priority never
// reaches other goroutines.
func (h *Hasher) work() {
	runtime.LockOSThread()
	lowerThreadPriority(hashNice)
	for job := range h.jobs {
		job()
	}
}

// Close stops the pool's goroutines. The Hasher must not be used after.
func (h *Hasher) Close() { h.closing.Do(func() { close(h.jobs) }) }

// run takes a slot and runs fn on a pool goroutine, returning ErrBusy or
// ctx.Err() like acquire. A panic in fn is raised again in the caller.
func (h *Hasher) run(ctx context.Context, fn func()) error {
	start := time.Now()
	err := h.acquire(ctx)
	h.observe(time.Since(start), err)
	if err != nil {
		return err
	}
	defer h.release()
	done := make(chan any, 1)
	h.jobs <- func() {
		defer func() { done <- recover() }()
		fn()
	}
	if p := <-done; p != nil {
		panic(p)
	}
	return nil
}

// acquire takes a pool slot, waiting in the queue if there is room. It
// returns ErrBusy when the queue is full, or ctx.Err() if ctx is done first.
// On success the caller must call release.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release frees a slot taken by acquire.
func (h *Hasher) release() { <-h.slots }

// Queue reports how many calls wait for a slot and how many slots are
// taken, now.
func (h *Hasher) Queue() (waiting, busy int) { return int(h.waiting.Load()), len(h.slots) }

// Hash returns HashPassword(password), run in the pool. It returns ErrBusy if
// the pool and queue are full, ctx.Err() if ctx is done before a slot frees,
// or the error of HashPassword.
func (h *Hasher) Hash(ctx context.Context, password string) (hash string, err error) {
	if rerr := h.run(ctx, func() { hash, err = HashPassword(password) }); rerr != nil {
		return "", rerr
	}
	return hash, err
}

// Verify checks password against an encoded hash (argon2id PHC or bcrypt),
// run in the pool. It returns needsRehash=true when the password matches but
// the hash is not argon2id with current parameters. It returns ErrMismatch on
// a wrong password, a wrapped error for a malformed hash, ErrBusy if the pool
// and queue are full, or ctx.Err() if ctx is done before a slot frees.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (needsRehash bool, err error) {
	if rerr := h.run(ctx, func() { needsRehash, err = VerifyPassword(encoded, password) }); rerr != nil {
		return false, rerr
	}
	return needsRehash, err
}

// VerifyDummy spends the same time as one Verify against a current argon2id
// hash and always fails; call it for an unknown email so that timing does not
// reveal which emails exist. It returns ErrMismatch, or ErrBusy or ctx.Err()
// like Verify, or an error if the dummy hash cannot be computed. The first
// call also computes the dummy hash.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	encoded, err := dummyHash()
	if err != nil {
		return fmt.Errorf("verify dummy: %w", err)
	}
	if _, err := h.Verify(ctx, encoded, password); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}
