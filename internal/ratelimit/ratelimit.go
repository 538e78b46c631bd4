// Package ratelimit keeps one token bucket per key (a client address and an
// operation, say), forgetting buckets that have been idle long enough to be
// full again: in memory (Limiter), or in PostgreSQL for every instance on
// the database (Shared).
package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepEvery is how often idle buckets are dropped.
const sweepEvery = time.Minute

// Limiter is a set of token buckets sharing one rate and burst. The zero
// rate disables it: every call is allowed.
type Limiter struct {
	rate  rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter refilling perSecond tokens a second up to burst.
// perSecond <= 0 disables limiting.
func New(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket at now. When the bucket is empty
// it reports false and how long until a token is available. It never
// returns an error.
func (l *Limiter) Allow(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if l == nil || l.rate <= 0 {
		return true, 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}

// sweep drops buckets idle for longer than a full refill takes: a new
// bucket would be the same. l.mu must be held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	full := time.Duration(float64(l.burst) / float64(l.rate) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		}
	}
}
