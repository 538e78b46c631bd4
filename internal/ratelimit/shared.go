package ratelimit

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Shared is a set of token buckets kept in PostgreSQL's address_limits
// table, so that every instance on the database draws from the same
// buckets: behind N instances a key gets its burst once, not N times. Each
// call is one statement on one row, next to the password hash it guards.
// The zero rate disables it: every call is allowed. It is safe for
// concurrent use.
type Shared struct {
	db       *sql.DB
	interval time.Duration // per token
	burst    int

	mu        sync.Mutex
	lastPrune time.Time
}

// NewShared returns a Shared on db refilling perSecond tokens a second up
// to burst. perSecond <= 0 disables limiting.
func NewShared(db *sql.DB, perSecond float64, burst int) *Shared {
	s := &Shared{db: db, burst: max(burst, 1)}
	if perSecond > 0 {
		s.interval = time.Duration(float64(time.Second) / perSecond)
	}
	return s
}

// takeToken takes a token from the bucket of $1 at $2 in one statement,
// atomic under concurrent callers on any instance. A bucket is the time it
// is full again (full_at): a token pushes that $3 seconds (one interval)
// past max(full_at, now), and is refused if that lands more than $4
// seconds (burst intervals) past now. The first SELECT answers for a token
// taken, with the new full_at; the second, for a token refused, with the
// full_at as it was (the statement's snapshot), or no row at all if
// another transaction created the bucket since the snapshot.
const takeToken = `
WITH taken AS (
	INSERT INTO address_limits AS l (key, full_at) VALUES ($1, $2::timestamptz + make_interval(secs => $3))
	ON CONFLICT (key) DO UPDATE SET full_at = GREATEST(l.full_at, $2::timestamptz) + make_interval(secs => $3)
	WHERE GREATEST(l.full_at, $2::timestamptz) + make_interval(secs => $3) <= $2::timestamptz + make_interval(secs => $4)
	RETURNING full_at
)
SELECT true, full_at FROM taken
UNION ALL
SELECT false, full_at FROM address_limits WHERE key = $1 AND NOT EXISTS (SELECT FROM taken)`

// Allow takes a token from key's bucket at now. When the bucket is empty
// it reports false and how long until a token is available. Returns an
// error if the database does not answer.
func (s *Shared) Allow(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if s.interval <= 0 {
		return true, 0, nil
	}
	if err := s.prune(ctx, now); err != nil {
		return false, 0, err
	}
	interval := s.interval.Seconds()
	var (
		taken  bool
		fullAt time.Time
	)
	err := s.db.QueryRowContext(ctx, takeToken, key, now, interval, interval*float64(s.burst)).Scan(&taken, &fullAt)
	switch {
	case err == sql.ErrNoRows: // refused in a race with the bucket's creation
		return false, s.interval, nil
	case err != nil:
		return false, 0, fmt.Errorf("take a token for %q: %w", key, err)
	case taken:
		return true, 0, nil
	}
	// A token is available once full_at + interval is within burst
	// intervals of now. (full_at may be older than the row the statement
	// found locked: then the wait is a guess.)
	wait := fullAt.Add(s.interval).Sub(now) - time.Duration(s.burst)*s.interval
	if wait <= 0 {
		wait = s.interval
	}
	return false, wait, nil
}

// prune deletes, at most once a minute per instance, the buckets that are
// full again: a new bucket would be the same.
func (s *Shared) prune(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	due := now.Sub(s.lastPrune) >= sweepEvery
	if due {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM address_limits WHERE full_at < $1", now); err != nil {
		return fmt.Errorf("prune full buckets: %w", err)
	}
	return nil
}
