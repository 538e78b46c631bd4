package persisted

import (
	"container/list"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"bitgate/ent"
	"bitgate/ent/persistedquery"
)

// Bounds of Queries, and its defaults.
const (
	// DefaultMaxQuery is the longest query kept, in bytes.
	DefaultMaxQuery = 32 << 10
	// DefaultInUse and DefaultRegistered are how many queries an instance
	// keeps in memory: run by their hash, and only registered. With
	// DefaultMaxQuery, at most 32 MiB.
	DefaultInUse      = 900
	DefaultRegistered = 100
	// DefaultMaxRows and DefaultMaxBytes bound the table.
	DefaultMaxRows  = 10_000
	DefaultMaxBytes = 64 << 20
)

// How the table ages.
const (
	// touchEvery is how often an instance writes that a query in its
	// memory still runs by its hash.
	touchEvery = time.Hour
	// pruneEvery is how often an instance prunes the table, at most.
	pruneEvery = 10 * time.Minute
	// neverUsedFor is how long a registration no client ran by its hash
	// is kept; usedFor, how long one is kept after its hash last ran.
	neverUsedFor = time.Hour
	usedFor      = 24 * time.Hour
)

// QueriesOptions tune Queries; zero values take the defaults.
type QueriesOptions struct {
	// MaxQuery is the longest query kept, in bytes: a longer one runs but
	// is not kept, and its client keeps sending it whole.
	MaxQuery int
	// InUse and Registered bound the queries an instance keeps in memory:
	// those a client ran by their hash, and those only registered.
	InUse, Registered int
	// MaxRows and MaxBytes bound the table's rows and the bytes of their
	// queries: a registration past them is kept in memory only.
	MaxRows, MaxBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Queries keeps the queries that clients registered with Apollo's
// automatic persisted queries (a query sent with its SHA-256 hash), so
// that every instance on the database runs them from the hash alone, and
// after a restart.
//
// The table (persisted_queries) is bounded, and a registration never
// evicts a query in use: past MaxRows rows or MaxBytes bytes of queries, a
// registration is not stored. The table is pruned instead (at most every
// ten minutes per instance, on a registration): a registration that no
// client ran by its hash within an hour goes, as does a query whose hash
// has not run for a day (each instance writes that a query of its memory
// runs at most once an hour).
//
// In front of the table, each instance keeps queries in memory, in two
// least-recently-used lists (a segmented LRU): the registrations, of which
// it keeps Registered, and the queries that ran by their hash here, of
// which it keeps InUse. A registration enters the first and evicts only
// from it, so that a flood of registrations cannot flush the queries in
// use; a hash that runs moves its query to the second.
//
// It is safe for concurrent use.
type Queries struct {
	client *ent.Client
	opts   QueriesOptions

	mu         sync.Mutex
	entries    map[string]*list.Element // of *cached, in one of the lists
	registered *list.List               // most recently registered first
	inUse      *list.List               // most recently run first
	nextPrune  time.Time
}

// cached is a query in memory.
type cached struct {
	hash, query string
	inUse       bool
	// touched is when this instance last wrote (or read) the row's
	// used_at; zero for never.
	touched time.Time
}

// NewQueries returns the persisted queries of the database of client.
func NewQueries(client *ent.Client, opts QueriesOptions) *Queries {
	for _, d := range []struct {
		v   *int
		def int
	}{
		{&opts.MaxQuery, DefaultMaxQuery}, {&opts.InUse, DefaultInUse}, {&opts.Registered, DefaultRegistered},
		{&opts.MaxRows, DefaultMaxRows}, {&opts.MaxBytes, DefaultMaxBytes},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Queries{client: client, opts: opts, entries: map[string]*list.Element{}, registered: list.New(), inUse: list.New()}
}

// Lookup returns the query registered under hash, from memory or else
// from the table, and notes that its hash ran. A hash that is not a Hash
// (64 lower-case hex digits) is not looked up. Returns an error if the
// database does not answer: with the query, when it failed only to note
// that it ran (which it tries again an hour later).
func (q *Queries) Lookup(ctx context.Context, hash string) (string, bool, error) {
	if !isHash(hash) {
		return "", false, nil
	}
	now := q.opts.Now()
	q.mu.Lock()
	if el, ok := q.entries[hash]; ok {
		e := q.use(el)
		due := now.Sub(e.touched) >= touchEvery
		if due {
			e.touched = now
		}
		query := e.query
		q.mu.Unlock()
		if due {
			return query, true, q.touch(ctx, hash, now)
		}
		return query, true, nil
	}
	q.mu.Unlock()
	row, err := q.client.PersistedQuery.Get(ctx, hash)
	switch {
	case ent.IsNotFound(err):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("look up persisted query %s: %w", hash, err)
	}
	var touched time.Time
	if row.UsedAt != nil {
		touched = *row.UsedAt
	}
	if now.Sub(touched) >= touchEvery {
		err = q.touch(ctx, hash, now)
		touched = now
	}
	q.mu.Lock()
	if _, ok := q.entries[hash]; !ok {
		q.keep(&cached{hash: hash, query: row.Query, inUse: true, touched: touched})
	}
	q.mu.Unlock()
	return row.Query, true, err
}

// Register keeps query under hash, which must be its Hash: in memory,
// and in the table while it has room. A query longer than MaxQuery is not
// kept. Returns an error if the database does not answer.
func (q *Queries) Register(ctx context.Context, hash, query string) error {
	if len(query) > q.opts.MaxQuery {
		return nil
	}
	now := q.opts.Now()
	q.mu.Lock()
	_, known := q.entries[hash]
	if !known {
		q.keep(&cached{hash: hash, query: query})
	}
	prune := !known && !now.Before(q.nextPrune)
	if prune {
		q.nextPrune = now.Add(pruneEvery)
	}
	q.mu.Unlock()
	if known {
		return nil
	}
	if prune {
		if err := q.prune(ctx, now); err != nil {
			return err
		}
	}
	return q.store(ctx, hash, query, now)
}

// store inserts query under hash unless the table is full.
func (q *Queries) store(ctx context.Context, hash, query string, now time.Time) error {
	var totals []struct {
		Rows  int           `json:"rows"`
		Bytes sql.NullInt64 `json:"bytes"`
	}
	err := q.client.PersistedQuery.Query().
		Aggregate(ent.As(ent.Count(), "rows"), ent.As(ent.Sum(persistedquery.FieldSize), "bytes")).
		Scan(ctx, &totals)
	if err != nil {
		return fmt.Errorf("count persisted queries: %w", err)
	}
	if len(totals) == 1 && (totals[0].Rows >= q.opts.MaxRows || int(totals[0].Bytes.Int64)+len(query) > q.opts.MaxBytes) {
		return nil // full: in memory only, until the prune makes room
	}
	err = q.client.PersistedQuery.Create().
		SetID(hash).SetQuery(query).SetSize(len(query)).SetCreatedAt(now).
		OnConflict().DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: registered already
		return fmt.Errorf("store persisted query %s: %w", hash, err)
	}
	return nil
}

// touch writes that hash ran at now.
func (q *Queries) touch(ctx context.Context, hash string, now time.Time) error {
	if err := q.client.PersistedQuery.Update().Where(persistedquery.ID(hash)).SetUsedAt(now).Exec(ctx); err != nil {
		return fmt.Errorf("note that persisted query %s ran: %w", hash, err)
	}
	return nil
}

// prune deletes the registrations whose hash no client ran within
// neverUsedFor, and the queries whose hash has not run for usedFor.
func (q *Queries) prune(ctx context.Context, now time.Time) error {
	_, err := q.client.PersistedQuery.Delete().Where(persistedquery.Or(
		persistedquery.And(persistedquery.UsedAtIsNil(), persistedquery.CreatedAtLT(now.Add(-neverUsedFor))),
		persistedquery.UsedAtLT(now.Add(-usedFor)),
	)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("prune persisted queries: %w", err)
	}
	return nil
}

// keep puts e first in its list, and evicts that list's last entry beyond
// its bound. q.mu must be held.
func (q *Queries) keep(e *cached) {
	l, bound := q.registered, q.opts.Registered
	if e.inUse {
		l, bound = q.inUse, q.opts.InUse
	}
	q.entries[e.hash] = l.PushFront(e)
	if l.Len() > bound {
		delete(q.entries, l.Remove(l.Back()).(*cached).hash)
	}
}

// use moves the entry of el first among the queries in use, and returns
// it. q.mu must be held.
func (q *Queries) use(el *list.Element) *cached {
	e := el.Value.(*cached)
	if e.inUse {
		q.inUse.MoveToFront(el)
		return e
	}
	q.registered.Remove(el)
	e.inUse = true
	q.keep(e)
	return e
}

// isHash reports whether s is a SHA-256 as Hash writes it.
func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
