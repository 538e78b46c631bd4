package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// writeWatch remembers whether the database's writes fail for a reason
// that is the database's, not the request's: a full disk, a file or a
// database that became read-only, an I/O error, a corrupt page. A
// constraint violation, a lost race or a cancelled request is no such
// fault. It is safe for concurrent use.
type writeWatch struct {
	fault atomic.Pointer[error] // the last fault, until a write succeeds
}

// failed records err when it is a fault.
func (w *writeWatch) failed(err error) {
	if err != nil && isWriteFault(err) {
		w.fault.Store(&err)
	}
}

// succeeded records a stored write: writes work again. It costs one
// atomic load while they do.
func (w *writeWatch) succeeded() {
	if w.fault.Load() != nil {
		w.fault.Store(nil)
	}
}

// lastFault returns the fault of the last failed write, or nil if a write
// succeeded since.
func (w *writeWatch) lastFault() error {
	if p := w.fault.Load(); p != nil {
		return *p
	}
	return nil
}

// isWriteFault reports whether err says the database cannot store data:
// on SQLite a full disk, a read-only or unopenable file, an I/O error or
// corruption; on PostgreSQL insufficient resources (class 53: disk full,
// out of memory, too many connections), a system or I/O error (class 58),
// an internal error such as data corruption (class XX), or a read-only
// transaction (25006: a standby after a failover, or
// default_transaction_read_only).
func isWriteFault(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		class := pe.Code[:min(2, len(pe.Code))]
		return class == "53" || class == "58" || class == "XX" || pe.Code == "25006"
	}
	return false
}

// watchedDriver is an ent driver that tells a writeWatch how its writes
// end (a statement or a commit that fails, or one that succeeds outside a
// transaction, and a commit that succeeds) and an OutageLog, if set, that
// the database answered a call.
type watchedDriver struct {
	dialect.Driver
	w *writeWatch
	o *OutageLog
}

// Exec runs a statement, which writes.
func (d watchedDriver) Exec(ctx context.Context, query string, args, v any) error {
	err := d.Driver.Exec(ctx, query, args, v)
	if err != nil {
		d.w.failed(err)
	} else {
		d.w.succeeded()
		d.o.answered()
	}
	return err
}

// Query runs a query, which writes when it is an INSERT, UPDATE or DELETE
// (… RETURNING).
func (d watchedDriver) Query(ctx context.Context, query string, args, v any) error {
	return watchQuery(ctx, d.Driver, d.w, d.o, query, args, v)
}

// QueryContext runs a query written by hand (ent's Client.QueryContext):
// the server's are reads.
func (d watchedDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, query, args...)
	if err == nil {
		d.o.answered()
	}
	return rows, err
}

// Tx begins a watched transaction (on SQLite, BEGIN IMMEDIATE already
// writes: it takes the write lock).
func (d watchedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		d.w.failed(err)
		return nil, err
	}
	d.o.answered()
	return watchedTx{tx, d.w, d.o}, nil
}

// watchedTx is a transaction of a watchedDriver.
type watchedTx struct {
	dialect.Tx
	w *writeWatch
	o *OutageLog
}

// Exec runs a statement in the transaction; only a fault is recorded
// before the commit.
func (t watchedTx) Exec(ctx context.Context, query string, args, v any) error {
	err := t.Tx.Exec(ctx, query, args, v)
	t.w.failed(err)
	return err
}

// ExecContext runs a statement written by hand (ent's Tx.ExecContext) in
// the transaction, like Exec.
func (t watchedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("%T runs no statement written by hand", t.Tx)
	}
	res, err := ex.ExecContext(ctx, query, args...)
	t.w.failed(err)
	return res, err
}

// Query runs a query in the transaction like watchedDriver.Query.
func (t watchedTx) Query(ctx context.Context, query string, args, v any) error {
	return watchQuery(ctx, t.Tx, t.w, t.o, query, args, v)
}

// Commit commits the transaction: its writes are stored, or failed.
func (t watchedTx) Commit() error {
	err := t.Tx.Commit()
	if err != nil {
		t.w.failed(err)
	} else {
		t.w.succeeded()
		t.o.answered()
	}
	return err
}

// watchQuery runs a query on q and, when it writes, records its fault; an
// answer goes to o.
func watchQuery(ctx context.Context, q dialect.ExecQuerier, w *writeWatch, o *OutageLog, query string, args, v any) error {
	err := q.Query(ctx, query, args, v)
	if writes(query) {
		w.failed(err)
	}
	if err == nil {
		o.answered()
	}
	return err
}

// writes reports whether a statement changes data.
func writes(query string) bool {
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return strings.EqualFold(verb, "INSERT") || strings.EqualFold(verb, "UPDATE") || strings.EqualFold(verb, "DELETE")
}
