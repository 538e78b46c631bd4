package persisted_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/persisted"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// queriesOn returns a function that starts an instance's persisted
// queries on the database of c, with opts and c's clock: each call is
// another instance (or the same after a restart), with an empty memory.
func queriesOn(c *apitest.Client, opts persisted.QueriesOptions) func() *persisted.Queries {
	opts.Now = c.Clock.Now
	return func() *persisted.Queries { return persisted.NewQueries(c.DB, opts) }
}

// query returns a distinct query of about n bytes, and its hash.
func query(name string, n int) (string, string) {
	q := fmt.Sprintf("query %s { __typename }", name)
	if n > len(q) {
		q += strings.Repeat(" ", n-len(q))
	}
	return q, persisted.Hash(q)
}

// requireStored requires hash to be found, or not, by an instance that
// has never seen it: in the table.
func requireStored(t *testing.T, start func() *persisted.Queries, hash string, want bool) {
	t.Helper()
	_, found, err := start().Lookup(t.Context(), hash)
	require.NoError(t, err)
	require.Equal(t, want, found, "stored")
}

// TestQueriesTableIsBounded registers past the table's rows and bytes: the
// registrations past them stay in their instance's memory only, and evict
// nothing from the table.
func TestQueriesTableIsBounded(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	start := queriesOn(c, persisted.QueriesOptions{MaxRows: 3, MaxBytes: 1000})
	q := start()
	var hashes []string
	for i := range 4 {
		text, hash := query(fmt.Sprintf("Q%d", i), 100)
		require.NoError(t, q.Register(t.Context(), hash, text))
		hashes = append(hashes, hash)
	}
	text, _ := query("Q0", 100)
	require.NoError(t, start().Register(t.Context(), hashes[0], text), "registered again on another instance")
	for i, hash := range hashes {
		requireStored(t, start, hash, i < 3)
		_, found, err := q.Lookup(t.Context(), hash)
		require.NoError(t, err)
		require.True(t, found, "in the memory of the instance that registered it")
	}

	c = apitest.New(t)
	start = queriesOn(c, persisted.QueriesOptions{MaxRows: 3, MaxBytes: 1000})
	q = start()
	big, bigHash := query("Big", 600)
	require.NoError(t, q.Register(t.Context(), bigHash, big))
	other, otherHash := query("Other", 500)
	require.NoError(t, q.Register(t.Context(), otherHash, other))
	requireStored(t, start, bigHash, true)
	requireStored(t, start, otherHash, false) // 1100 bytes
}

// TestQueriesRegistrationsKeepTheQueriesInUse registers more queries than
// an instance keeps in memory: the query whose hash ran stays there.
func TestQueriesRegistrationsKeepTheQueriesInUse(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	q := queriesOn(c, persisted.QueriesOptions{InUse: 2, Registered: 2})()
	text, hash := query("InUse", 0)
	require.NoError(t, q.Register(t.Context(), hash, text))
	_, found, err := q.Lookup(t.Context(), hash)
	require.NoError(t, err)
	require.True(t, found)
	for i := range 10 {
		text, h := query(fmt.Sprintf("Flood%d", i), 0)
		require.NoError(t, q.Register(t.Context(), h, text))
	}
	n := c.SQLCount()
	got, found, err := q.Lookup(t.Context(), hash)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, text, got)
	require.Equal(t, n, c.SQLCount(), "read from the table: the registrations evicted it from memory")
}

// TestQueriesArePruned: a registration whose hash never ran goes after an
// hour, a query whose hash ran stays while it runs, and goes a day after
// it last ran. The prune comes with a registration, at most every ten
// minutes per instance.
func TestQueriesArePruned(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	start := queriesOn(c, persisted.QueriesOptions{})
	q := start()
	register := func(name string) string {
		t.Helper()
		text, hash := query(name, 0)
		require.NoError(t, q.Register(t.Context(), hash, text))
		return hash
	}
	run := func(hash string) {
		t.Helper()
		_, found, err := q.Lookup(t.Context(), hash)
		require.NoError(t, err)
		require.True(t, found)
	}
	never, used, idle := register("Never"), register("Used"), register("Idle")
	run(used)
	run(idle)

	c.Clock.Advance(61 * time.Minute)
	run(used)
	register("Later")
	requireStored(t, start, never, false)
	requireStored(t, start, used, true)
	requireStored(t, start, idle, true)

	for range 30 { // a day and a half, the used query running every hour
		c.Clock.Advance(time.Hour)
		run(used)
	}
	register("EvenLater")
	requireStored(t, start, used, true)
	requireStored(t, start, idle, false)
}
