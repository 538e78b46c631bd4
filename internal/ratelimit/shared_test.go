package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/database"
	"bitgate/internal/ratelimit"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// TestSharedBuckets holds ratelimit.Shared to the in-memory limiter's
// rules, with two of them (two instances) on one database drawing from
// the same buckets, and prunes the buckets that are full again.
func TestSharedBuckets(t *testing.T) {
	t.Parallel()
	url := apitest.FreshDatabase(t)
	if !database.IsPostgres(url) {
		t.Skip("the shared buckets live in PostgreSQL")
	}
	db, err := database.Open(t.Context(), url, database.Options{})
	require.NoError(t, err)
	defer db.Close()
	instances := []*ratelimit.Shared{ratelimit.NewShared(db.SQL, 2, 3), ratelimit.NewShared(db.SQL, 2, 3)} // 2 a second, burst 3
	allow := func(i int, key string, at time.Time) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := instances[i%2].Allow(t.Context(), key, at)
		require.NoError(t, err)
		return ok, wait
	}
	now := time.Now()
	for i := range 3 {
		ok, _ := allow(i, "a", now)
		require.True(t, ok, "call %d within the burst", i+1)
	}
	for i := range 2 {
		ok, wait := allow(i, "a", now)
		require.False(t, ok, "past the burst, on instance %d", i)
		require.True(t, wait > 0 && wait <= 500*time.Millisecond, "wait %v, want (0, 500ms]", wait)
	}
	ok, _ := allow(0, "b", now)
	require.True(t, ok, "another key has its own bucket")
	ok, _ = allow(1, "a", now.Add(500*time.Millisecond))
	require.True(t, ok, "a token comes back after 500ms")

	rows := func() int {
		n, err := db.Client.AddressLimit.Query().Count(t.Context())
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 2, rows())
	// A minute later both buckets are full: the next call prunes them
	// before it makes its own.
	ok, _ = allow(0, "c", now.Add(time.Minute+time.Second))
	require.True(t, ok)
	require.Equal(t, 1, rows(), "full buckets are pruned")

	disabled := ratelimit.NewShared(db.SQL, 0, 1)
	for range 5 {
		ok, _, err := disabled.Allow(t.Context(), "d", now)
		require.NoError(t, err)
		require.True(t, ok, "AUTH_RATE=0 limits nothing")
	}
}

// BenchmarkSharedAllow measures a token taken from a shared bucket: one
// statement, to set next to a password hash (about 30 ms).
func BenchmarkSharedAllow(b *testing.B) {
	url := apitest.FreshDatabase(b)
	if !database.IsPostgres(url) {
		b.Skip("the shared buckets live in PostgreSQL")
	}
	db, err := database.Open(b.Context(), url, database.Options{})
	require.NoError(b, err)
	defer db.Close()
	s := ratelimit.NewShared(db.SQL, 1e9, 1)
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		if _, _, err := s.Allow(b.Context(), "signin 192.0.2.1", now.Add(time.Duration(i))); err != nil {
			b.Fatal(err)
		}
	}
}
