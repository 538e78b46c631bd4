package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// timeoutDriver bounds every call ent makes: a statement, and a
// transaction from its start to its commit, each ends with a deadline
// error after d. A database that hangs (frozen, or a lock held past
// SQLite's busy timeout) then fails the call in bounded time instead of
// holding the request until the client gives up; the caller's own
// deadline still applies when it is sooner.
//
// On SQLite, which has one writer and whose transactions all write
// (BEGIN IMMEDIATE), the process's transactions also take turns (turns, a
// semaphore of one) before they ask SQLite for its lock: waiting in
// SQLite's busy handler, which retries by polling at up to 100 ms, lets
// newcomers overtake, so that under a burst some transaction would
// starve past the bound; a Go channel serves waiters in order.
type timeoutDriver struct {
	*entsql.Driver
	d     time.Duration
	turns chan struct{} // nil on PostgreSQL
}

// newTimeoutDriver returns drv with every call bounded by d
// (its default if d is 0), its transactions taking turns on SQLite.
func newTimeoutDriver(drv *entsql.Driver, d time.Duration) timeoutDriver {
	if d <= 0 {
		d = defaults.CallTimeout
	}
	t := timeoutDriver{Driver: drv, d: d}
	if drv.Dialect() == dialect.SQLite {
		t.turns = make(chan struct{}, 1)
	}
	return t
}

// Exec runs a statement within the bound.
func (t timeoutDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Driver.Exec(ctx, query, args, v)
}

// Query runs a query, and the reading of its rows, within the bound.
func (t timeoutDriver) Query(ctx context.Context, query string, args, v any) error {
	return queryWithin(ctx, t.d, t.Driver, query, args, v)
}

// QueryContext runs a query written by hand (ent's Client.QueryContext,
// which authenticates every request) within the bound, as Query does.
// Without it, *entsql.Driver's own would be promoted and run unbounded.
func (t timeoutDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	rows, err := t.Driver.QueryContext(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	_ = cancel // see queryWithin: the deadline outlives the call
	return rows, nil
}

// Tx starts a transaction bounded as a whole (see BeginTx).
func (t timeoutDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return t.BeginTx(ctx, nil)
}

// BeginTx starts a transaction whose start, statements and commit all end
// within the bound; each of its statements is bounded on its own too,
// since database/sql cannot roll back a transaction while one runs.
func (t timeoutDriver) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	end := cancel
	if t.turns != nil {
		select {
		case t.turns <- struct{}{}:
		case <-ctx.Done():
			cancel()
			return nil, fmt.Errorf("wait for a turn to write: %w", context.Cause(ctx))
		}
		end = func() { cancel(); <-t.turns }
	}
	end = sync.OnceFunc(end)
	tx, err := t.Driver.BeginTx(ctx, opts)
	if err != nil {
		end()
		return nil, err
	}
	// A transaction never ended (its caller panicked) holds its turn until
	// its deadline, when database/sql rolls it back, and no longer.
	context.AfterFunc(ctx, end)
	return &timeoutTx{Tx: tx, d: t.d, ctx: ctx, end: end}, nil
}

// timeoutTx is a transaction of timeoutDriver.
type timeoutTx struct {
	dialect.Tx
	d   time.Duration
	ctx context.Context // the transaction's, with its deadline
	end func()          // releases the deadline (and the turn), once
}

// Exec runs a statement of the transaction within the bound.
func (t *timeoutTx) Exec(ctx context.Context, query string, args, v any) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.ended(t.Tx.Exec(ctx, query, args, v))
}

// Query runs a query of the transaction within the bound.
func (t *timeoutTx) Query(ctx context.Context, query string, args, v any) error {
	return t.ended(queryWithin(ctx, t.d, t.Tx, query, args, v))
}

// ExecContext runs a statement written by hand (ent's Tx.ExecContext) in
// the transaction within the bound, as Exec does.
func (t *timeoutTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("%T runs no statement written by hand", t.Tx)
	}
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	res, err := ex.ExecContext(ctx, query, args...)
	return res, t.ended(err)
}

// Commit commits and releases the transaction's deadline and turn.
func (t *timeoutTx) Commit() error {
	defer t.end()
	return t.ended(t.Tx.Commit())
}

// Rollback rolls back and releases the transaction's deadline and turn.
func (t *timeoutTx) Rollback() error {
	defer t.end()
	return t.ended(t.Tx.Rollback())
}

// ended adds to err why the transaction is over, when its deadline passed
// (or its caller went away) and database/sql rolled it back: the bare
// sql.ErrTxDone would read as a bug.
func (t *timeoutTx) ended(err error) error {
	if errors.Is(err, sql.ErrTxDone) && t.ctx.Err() != nil {
		return fmt.Errorf("transaction rolled back: %w: %w", context.Cause(t.ctx), err)
	}
	return err
}

// queryWithin runs q on eq with a deadline of d. The rows it returns into
// v are read after it returns, and ent's schema tools need them to be the
// *sql.Rows itself (no wrapper could end the deadline on Close), so on
// success the deadline ends with the caller's context (a request's, when
// its handler returns) or when it expires.
func queryWithin(ctx context.Context, d time.Duration, eq dialect.ExecQuerier, q string, args, v any) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	if err := eq.Query(ctx, q, args, v); err != nil {
		cancel()
		return err
	}
	_ = cancel // see above: the deadline outlives the call
	return nil
}
