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

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// ErrBusy is returned when the Hasher pool and its wait queue are full.
var ErrBusy = errors.New("password hashing is busy")

// errMalformedHash is wrapped by errors for encoded hashes that cannot be
// decoded.
var errMalformedHash = errors.New("malformed password hash")

// Current argon2id parameters (OWASP): 19 MiB, 2 passes, 1 lane.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on decoded parameters, so that a planted hash cannot make Verify
// allocate or compute without bound.
const (
	maxArgonMemory  = 1 << 21 // KiB (2 GiB)
	maxArgonTime    = 16
	maxArgonThreads = 16
	maxArgonKeyLen  = 128
	minArgonKeyLen  = 4
	minArgonSaltLen = 8
	maxArgonSaltLen = 64
	maxBcryptCost   = 16
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
// It returns ErrMismatch on a wrong password and an error wrapping a
// malformed-hash error when encoded cannot be decoded or has parameters out
// of bounds. It is unpooled; servers should use Hasher.Verify.
func VerifyPassword(encoded, password string) (needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
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
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			return false, fmt.Errorf("verify password: %w: bcrypt: %w", errMalformedHash, err)
		}
		if cost > maxBcryptCost {
			return false, fmt.Errorf("verify password: %w: bcrypt cost %d above %d", errMalformedHash, cost, maxBcryptCost)
		}
		err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, ErrMismatch
		case err != nil:
			return false, fmt.Errorf("verify password: %w: bcrypt: %w", errMalformedHash, err)
		}
		return true, nil
	default:
		return false, fmt.Errorf("verify password: %w: unknown scheme", errMalformedHash)
	}
}

// decodeArgon2id strictly decodes an argon2id PHC string in the canonical
// form HashPassword writes, with parameters within the package limits.
func decodeArgon2id(encoded string) (*argonParams, error) {
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return nil, fmt.Errorf("%w: argon2id: want 6 $-separated fields", errMalformedHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: argon2id: unsupported version %q", errMalformedHash, fields[2])
	}
	var m, t, p uint64
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return nil, fmt.Errorf("%w: argon2id: want m,t,p parameters", errMalformedHash)
	}
	for i, dst := range []*uint64{&m, &t, &p} {
		name := "mtp"[i : i+1]
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return nil, fmt.Errorf("%w: argon2id: want parameter %s", errMalformedHash, name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return nil, fmt.Errorf("%w: argon2id: bad parameter %s=%q", errMalformedHash, name, v)
		}
		*dst = n
	}
	switch {
	case m < 8*p || m > maxArgonMemory:
		return nil, fmt.Errorf("%w: argon2id: memory %d out of range", errMalformedHash, m)
	case t < 1 || t > maxArgonTime:
		return nil, fmt.Errorf("%w: argon2id: time %d out of range", errMalformedHash, t)
	case p < 1 || p > maxArgonThreads:
		return nil, fmt.Errorf("%w: argon2id: parallelism %d out of range", errMalformedHash, p)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: salt: %w", errMalformedHash, err)
	}
	if len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return nil, fmt.Errorf("%w: argon2id: salt length %d out of range", errMalformedHash, len(salt))
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: hash: %w", errMalformedHash, err)
	}
	if len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return nil, fmt.Errorf("%w: argon2id: hash length %d out of range", errMalformedHash, len(key))
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
}

// hashNice is the nice value of hashing threads: below every request.
const hashNice = 10

// NewHasher returns a Hasher running at most workers hashes at once
// (runtime.NumCPU() if workers < 1) with at most queue waiting callers (0 if
// queue < 0). Close stops its goroutines.
func NewHasher(workers, queue int) *Hasher {
	if workers < 1 {
		workers = runtime.NumCPU()
	}
	h := &Hasher{
		slots: make(chan struct{}, workers),
		jobs:  make(chan func()),
		queue: int64(max(queue, 0)),
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
	if err := h.acquire(ctx); err != nil {
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
