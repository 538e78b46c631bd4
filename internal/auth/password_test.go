package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

// argonHash encodes an argon2id hash of password with the given parameters.
func argonHash(t testing.TB, password string, m, tm uint32, p uint8) string {
	t.Helper()
	salt := make([]byte, 16)
	_, err := rand.Read(salt)
	require.NoError(t, err)
	key := argon2.IDKey([]byte(password), salt, tm, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd 🔑", strings.Repeat("x", 1000)} {
		t.Run(fmt.Sprintf("len%d", len(pw)), func(t *testing.T) {
			h, err := HashPassword(pw)
			require.NoError(t, err)
			require.Regexp(t, phcRe, h)

			rehash, err := VerifyPassword(h, pw)
			require.NoError(t, err, "VerifyPassword(%q, %q) = %v, want nil", h, pw, err)
			require.False(t, rehash, "VerifyPassword(%q) needsRehash = true, want false", h)

			_, err = VerifyPassword(h, pw+"x")
			require.ErrorIs(t, err, ErrMismatch, "VerifyPassword(wrong) = %v, want %v", err, ErrMismatch)

			h2, err := HashPassword(pw)
			require.NoError(t, err)
			require.NotEqual(t, h, h2, "two hashes of the same password must differ")
		})
	}
}

func TestVerifyPasswordLegacy(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	require.NoError(t, err)
	bcs := string(bc)
	tests := []struct {
		name, encoded, password string
		wantRehash              bool
		wantErr                 error
	}{
		{"bcrypt 2a", bcs, "hunter2", true, nil},
		{"bcrypt 2b", "$2b$" + bcs[4:], "hunter2", true, nil},
		{"bcrypt 2y", "$2y$" + bcs[4:], "hunter2", true, nil},
		{"bcrypt wrong", bcs, "hunter3", false, ErrMismatch},
		{"argon2id m=65536,t=3", argonHash(t, "hunter2", 65536, 3, 1), "hunter2", true, nil},
		{"argon2id m=65536,t=3 wrong", argonHash(t, "hunter2", 65536, 3, 1), "hunter3", false, ErrMismatch},
		{"argon2id p=2", argonHash(t, "hunter2", 19456, 2, 2), "hunter2", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rehash, err := VerifyPassword(tt.encoded, tt.password)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "VerifyPassword(%q) = %v, want %v", tt.encoded, err, tt.wantErr)
			} else {
				require.NoError(t, err, "VerifyPassword(%q) = %v, want nil", tt.encoded, err)
			}
			require.Equal(t, tt.wantRehash, rehash, "VerifyPassword(%q) needsRehash = %v, want %v", tt.encoded, rehash, tt.wantRehash)
		})
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, err := HashPassword("pw")
	require.NoError(t, err)
	f := strings.Split(good, "$") // "", argon2id, v=19, m=...,t=...,p=..., salt, hash
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)

	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"scheme only", "$argon2id$"},
		{"argon2i", join("", "argon2i", f[2], f[3], f[4], f[5])},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA"},
		{"plaintext", "pw"},
		{"too few fields", join("", "argon2id", f[2], f[3], f[4])},
		{"too many fields", good + "$x"},
		{"v=18", join("", "argon2id", "v=18", f[3], f[4], f[5])},
		{"no version", join("", "argon2id", f[3], f[4], f[5])},
		{"huge m", join("", "argon2id", f[2], "m=4194304,t=2,p=1", f[4], f[5])},
		{"huge t", join("", "argon2id", f[2], "m=19456,t=1000,p=1", f[4], f[5])},
		{"huge p", join("", "argon2id", f[2], "m=19456,t=2,p=255", f[4], f[5])},
		{"zero t", join("", "argon2id", f[2], "m=19456,t=0,p=1", f[4], f[5])},
		{"zero p", join("", "argon2id", f[2], "m=19456,t=2,p=0", f[4], f[5])},
		{"zero m", join("", "argon2id", f[2], "m=0,t=2,p=1", f[4], f[5])},
		{"m overflows uint32", join("", "argon2id", f[2], "m=4294967296,t=2,p=1", f[4], f[5])},
		{"negative m", join("", "argon2id", f[2], "m=-1,t=2,p=1", f[4], f[5])},
		{"plus sign", join("", "argon2id", f[2], "m=+19456,t=2,p=1", f[4], f[5])},
		{"leading zero", join("", "argon2id", f[2], "m=019456,t=2,p=1", f[4], f[5])},
		{"params reordered", join("", "argon2id", f[2], "t=2,m=19456,p=1", f[4], f[5])},
		{"params missing", join("", "argon2id", f[2], "m=19456,t=2", f[4], f[5])},
		{"params with space", join("", "argon2id", f[2], "m=19456, t=2,p=1", f[4], f[5])},
		{"bad base64 salt", join("", "argon2id", f[2], f[3], "!!!!", f[5])},
		{"padded salt", join("", "argon2id", f[2], f[3], f[4]+"==", f[5])},
		{"url base64 hash", join("", "argon2id", f[2], f[3], f[4], strings.Repeat("_", 43))},
		{"empty salt", join("", "argon2id", f[2], f[3], "", f[5])},
		{"empty hash", join("", "argon2id", f[2], f[3], f[4], "")},
		{"huge hash", join("", "argon2id", f[2], f[3], f[4], base64.RawStdEncoding.EncodeToString(make([]byte, 200)))},
		{"bcrypt truncated", string(bc[:20])},
		{"bcrypt huge cost", "$2a$31$" + string(bc[7:])},
		{"bcrypt garbage", "$2b$10$" + strings.Repeat("*", 53)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				rehash bool
				err    error
			)
			require.NotPanics(t, func() { rehash, err = VerifyPassword(tt.encoded, "pw") })
			require.ErrorIs(t, err, ErrUnusableHash, "VerifyPassword(%q) = %v, want %v", tt.encoded, err, ErrUnusableHash)
			require.False(t, rehash)
			require.ErrorIs(t, CheckHash(tt.encoded), ErrUnusableHash, "CheckHash(%q)", tt.encoded)
		})
	}
}

// TestHashBounds accepts the hashes of common tools' settings and refuses
// costlier ones, even with the right password, without hashing: a refused
// hash allocates less than a MiB, where checking the server's own takes
// 19 MiB. Before, the bounds were 2 GiB, 16 passes, 16 lanes and bcrypt
// cost 16.
func TestHashBounds(t *testing.T) {
	const pw = "imported password"
	bcryptHash := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		require.NoError(t, err)
		return string(h)
	}
	cheap := bcryptHash(bcrypt.MinCost)
	for _, tt := range []struct {
		name    string
		encoded string
		ok      bool
	}{
		{"the server's own", argonHash(t, pw, 19456, 2, 1), true},
		{"OWASP 46 MiB t=1", argonHash(t, pw, 47104, 1, 1), true},
		{"OWASP 12 MiB t=3", argonHash(t, pw, 12288, 3, 1), true},
		{"OWASP 9 MiB t=4", argonHash(t, pw, 9216, 4, 1), true},
		{"OWASP 7 MiB t=5 (Keycloak)", argonHash(t, pw, 7168, 5, 1), true},
		{"Spring Security 16 MiB t=2", argonHash(t, pw, 16384, 2, 1), true},
		{"RFC 9106 second choice, argon2-cffi, node-argon2: 64 MiB t=3 p=4", argonHash(t, pw, 65536, 3, 4), true},
		{"PHP and Laravel: 64 MiB t=4", argonHash(t, pw, 65536, 4, 1), true},
		{"bcrypt cost 10", bcryptHash(10), true},
		{"bcrypt cost 12", bcryptHash(12), true},
		{"memory over 64 MiB", argonHash(t, pw, 65536+1024, 1, 1), false},
		{"64 MiB t=5", argonHash(t, pw, 65536, 5, 1), false},
		{"19 MiB t=14: work over 64 MiB × 4", argonHash(t, pw, 19456, 14, 1), false},
		{"5 lanes", argonHash(t, pw, 19456, 2, 5), false},
		{"2 GiB t=16 p=16 (the old bounds)", "$argon2id$v=19$m=2097152,t=16,p=16$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43), false},
		{"bcrypt cost 13", cheap[:4] + "13" + cheap[6:], false},
		{"bcrypt cost 16", cheap[:4] + "16" + cheap[6:], false},
		{"bcrypt one character short", cheap[:59], false},
		{"bcrypt one character long", cheap + "A", false},
		{"bcrypt salt outside the alphabet", cheap[:10] + "!" + cheap[11:], false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ok {
				require.NoError(t, CheckHash(tt.encoded), "CheckHash(%q)", tt.encoded)
				_, err := VerifyPassword(tt.encoded, pw)
				require.NoError(t, err, "VerifyPassword(%q, right password)", tt.encoded)
				_, err = VerifyPassword(tt.encoded, pw+"x")
				require.ErrorIs(t, err, ErrMismatch, "VerifyPassword(%q, wrong password)", tt.encoded)
				return
			}
			require.ErrorIs(t, CheckHash(tt.encoded), ErrUnusableHash, "CheckHash(%q)", tt.encoded)
			var err error
			bytes := allocated(func() { _, err = VerifyPassword(tt.encoded, pw) })
			require.ErrorIs(t, err, ErrUnusableHash, "VerifyPassword(%q, right password) = %v", tt.encoded, err)
			require.Less(t, bytes, uint64(1<<20), "VerifyPassword(%q) allocated %d bytes: it hashed", tt.encoded, bytes)
		})
	}
}

// TestBcryptLongPasswords: bcrypt reads only a password's first 72 bytes,
// so against a bcrypt hash a longer password never matches, whatever
// follows those bytes; exactly the 72 bytes do. Before, every password
// sharing the first 72 bytes matched.
func TestBcryptLongPasswords(t *testing.T) {
	first72 := strings.Repeat("0123456789ab", 6)
	require.Len(t, first72, 72)
	h, err := bcrypt.GenerateFromPassword([]byte(first72), bcrypt.MinCost)
	require.NoError(t, err)
	for _, tt := range []struct {
		name, password string
		want           error
	}{
		{"exactly the 72 bytes bcrypt read", first72, nil},
		{"the 72 bytes and one more", first72 + "x", ErrMismatch},
		{"the 72 bytes and another tail", first72 + " another tail", ErrMismatch},
		{"71 of the bytes", first72[:71], ErrMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rehash, err := VerifyPassword(string(h), tt.password)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want, "VerifyPassword(bcrypt, %d bytes) = %v, want %v", len(tt.password), err, tt.want)
				require.False(t, rehash, "a refused password would be rehashed")
				return
			}
			require.NoError(t, err)
			require.True(t, rehash)
		})
	}
}

// allocated returns how many bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(0, -1)
	enc, err := h.Hash(ctx, "pw")
	require.NoError(t, err)
	rehash, err := h.Verify(ctx, enc, "pw")
	require.NoError(t, err)
	require.False(t, rehash)
	_, err = h.Verify(ctx, enc, "nope")
	require.ErrorIs(t, err, ErrMismatch)

	err = h.VerifyDummy(ctx, "pw")
	require.ErrorIs(t, err, ErrMismatch, "VerifyDummy() = %v, want %v", err, ErrMismatch)
	err = h.VerifyDummy(ctx, "")
	require.ErrorIs(t, err, ErrMismatch, "VerifyDummy() = %v, want %v", err, ErrMismatch)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = h.Hash(cancelled, "pw")
	require.ErrorIs(t, err, context.Canceled)
}

func TestHasherBusy(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(1, 0)
	h.slots <- struct{}{} // a hash is running

	_, err := h.Hash(ctx, "pw")
	require.ErrorIs(t, err, ErrBusy, "Hash() = %v, want %v", err, ErrBusy)
	_, err = h.Verify(ctx, "x", "pw")
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorIs(t, h.VerifyDummy(ctx, "pw"), ErrBusy)

	h.release()
	_, err = h.Hash(ctx, "pw")
	require.NoError(t, err)
	require.Empty(t, h.slots, "slot not released")
}

func TestHasherQueue(t *testing.T) {
	h := NewHasher(1, 1)
	h.slots <- struct{}{} // a hash is running

	// One caller waits in the queue until its context is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "pw")
		errc <- err
	}()
	require.Eventually(t, func() bool { return h.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)

	// The queue is full: the next caller is turned away.
	_, err := h.Hash(context.Background(), "pw")
	require.ErrorIs(t, err, ErrBusy)

	cancel()
	require.ErrorIs(t, <-errc, context.Canceled, "waiting Hash() with cancelled ctx")
	require.Equal(t, int64(0), h.waiting.Load())

	// A waiting caller gets the slot once it is released.
	go func() {
		_, err := h.Hash(context.Background(), "pw")
		errc <- err
	}()
	require.Eventually(t, func() bool { return h.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)
	h.release()
	require.NoError(t, <-errc)
	require.Empty(t, h.slots, "slot not released")
	require.Equal(t, int64(0), h.waiting.Load())
}

func TestHasherConcurrent(t *testing.T) {
	h := NewHasher(2, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := h.Hash(context.Background(), "pw")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Empty(t, h.slots)
	require.Equal(t, int64(0), h.waiting.Load())
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
