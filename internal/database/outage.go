package database

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// outageLogEvery is how often OutageLog says that an outage goes on, and
// how long without a refused request ends one.
const outageLogEvery = 10 * time.Second

// OutageLog logs the requests refused because the database is unavailable
// (see IsUnavailable) a few lines per outage instead of one per request,
// which was thousands a second: the first refusal at WARN ("database
// unavailable", with the request's error and request_id); then, at most
// every 10 s while requests are refused, how many were since the last line
// ("database still unavailable"); and, at the first call the database
// answers once 10 s passed without a refusal, the end ("database available
// again", with the count and how long it lasted). It is safe for
// concurrent use.
type OutageLog struct {
	log  *slog.Logger
	now  func() time.Time
	down atomic.Bool // an outage started and has not ended

	mu       sync.Mutex
	start    time.Time // the outage's first refusal
	last     time.Time // its latest refusal
	lastLine time.Time
	refused  int    // since the start
	unlogged int    // since the last line
	err      string // of the latest refusal (its text: the caller may change the error)
}

// NewOutageLog returns an OutageLog that writes to log, with the time of
// now (time.Now if nil).
func NewOutageLog(log *slog.Logger, now func() time.Time) *OutageLog {
	if now == nil {
		now = time.Now
	}
	return &OutageLog{log: log, now: now}
}

// Refused records a request refused because of err, a database that is
// unavailable; attrs say what failed. It logs the first refusal of an
// outage with ctx (its request_id), err and attrs, and later ones every
// outageLogEvery, counted.
func (o *OutageLog) Refused(ctx context.Context, err error, attrs ...any) {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last, o.err = now, err.Error()
	if !o.down.Load() {
		o.down.Store(true)
		o.start, o.lastLine, o.refused, o.unlogged = now, now, 1, 0
		o.log.WarnContext(ctx, "database unavailable", append(attrs, slog.Any("error", err))...)
		return
	}
	o.refused++
	o.unlogged++
	if now.Sub(o.lastLine) >= outageLogEvery {
		o.log.Warn("database still unavailable", slog.Int("refused", o.unlogged),
			slog.Duration("for", now.Sub(o.start)), slog.String("error", o.err))
		o.lastLine, o.unlogged = now, 0
	}
}

// answered records a call the database answered: the end of an outage
// once no request was refused for outageLogEvery. It costs an atomic load
// when there is none.
func (o *OutageLog) answered() {
	if o == nil || !o.down.Load() {
		return
	}
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down.Load() || now.Sub(o.last) < outageLogEvery {
		return
	}
	o.down.Store(false)
	o.log.Warn("database available again", slog.Int("refused", o.refused),
		slog.Duration("lasted", o.last.Sub(o.start)), slog.String("last_error", o.err))
}
