package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnavailable reports whether err says that the database could not be
// reached or did not answer in time, as opposed to a fault of a query or
// of the data: a deadline passed (the call's or the request's); a
// connection refused, reset, closed or never made; PostgreSQL shutting
// down, starting up, read-only, out of connections, memory or disk, failing
// I/O, or cancelling a statement; SQLite busy past its timeout, unable to
// open, read or write its file, or out of disk. Trying again later may
// succeed.
func IsUnavailable(err error) bool {
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		liteErr    *sqlite.Error
	)
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.ErrUnexpectedEOF),
		pgconn.Timeout(err),
		errors.As(err, &connectErr),
		errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		return postgresUnavailable(pgErr.Code)
	case errors.As(err, &liteErr):
		return sqliteUnavailable(liteErr.Code())
	}
	return false
}

// postgresUnavailable reports whether an SQLSTATE says the server cannot
// serve now: class 08 (connection exception), class 53 (insufficient
// resources: disk full, out of memory, too many connections), class 58
// (system or I/O error), 57014 (statement cancelled, e.g. by
// statement_timeout), 57P01–57P05 (shutting down, starting up, idle too
// long) and 25006 (a read-only transaction: a standby, during a failover).
func postgresUnavailable(code string) bool {
	switch code[:min(2, len(code))] {
	case "08", "53", "58":
		return true
	}
	return code == "57014" || strings.HasPrefix(code, "57P") || code == "25006"
}

// sqliteUnavailable reports whether an SQLite result code says the file
// cannot be used now: locked by another connection past the busy timeout,
// not openable, unreadable or unwritable, or its disk full.
func sqliteUnavailable(code int) bool {
	switch code & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return true
	}
	return false
}
