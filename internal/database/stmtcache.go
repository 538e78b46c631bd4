package database

import (
	"context"
	"database/sql/driver"
	"errors"
)

// maxCachedStmts bounds the prepared statements one SQLite connection
// keeps. The server's queries come in a few dozen shapes; lists of ids of
// varying length make more, which eviction keeps in check.
const maxCachedStmts = 128

// stmtCache is a driver.Connector whose SQLite connections keep each
// statement they prepare, keyed by its SQL text, and run it again with new
// arguments instead of compiling the text anew: modernc.org/sqlite
// prepares every statement that database/sql passes it as text, which was
// a sixth of the server's CPU under load. (pgx caches prepared statements
// per connection itself.)
type stmtCache struct{ driver.Connector }

// Connect opens a connection with an empty statement cache.
func (c stmtCache) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, ok := range []bool{
		implements[driver.QueryerContext](conn), implements[driver.ExecerContext](conn),
		implements[driver.ConnBeginTx](conn), implements[driver.ConnPrepareContext](conn),
		implements[driver.SessionResetter](conn), implements[driver.Validator](conn), implements[driver.Pinger](conn),
	} {
		if !ok {
			conn.Close()
			return nil, errors.New("statement cache: the SQLite driver's connection lacks an interface it wraps")
		}
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func implements[T any](v any) bool { _, ok := v.(T); return ok }

// cachingConn is a connection with its prepared statements. database/sql
// uses a connection from one goroutine at a time (closing rows included),
// so it needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement; busy while rows read from it.
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

// stmt returns the cached statement of query, preparing it on first use.
// It returns nil when the statement is busy (rows of an earlier run are
// still open on this connection): the caller then runs query uncached.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		c.evict()
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

// evict closes one idle statement, whichever the map yields first.
func (c *cachingConn) evict() {
	for q, s := range c.stmts {
		if !s.busy {
			_ = s.stmt.Close()
			delete(c.stmts, q)
			return
		}
	}
}

// QueryContext runs query through its cached statement.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	typed, ok := rows.(rowsWithTypes)
	if !ok {
		rows.Close()
		return nil, errors.New("statement cache: the SQLite driver's rows lack an interface they wrap")
	}
	s.busy = true
	return &cachedRows{rowsWithTypes: typed, stmt: s}, nil
}

// ExecContext runs query through its cached statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close finalizes the cached statements and closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.Conn.Close())...)
}

// The optional interfaces of the wrapped connection, passed through.

// BeginTx starts a transaction.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// PrepareContext prepares a statement the caller owns (not cached).
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// ResetSession is called before the connection is reused.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid reports whether the connection may be reused.
func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Ping checks the connection.
func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// rowsWithTypes is what modernc.org/sqlite's rows implement, so that the
// wrapper keeps database/sql's column type information.
type rowsWithTypes interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows frees its statement for the next run when closed.
type cachedRows struct {
	rowsWithTypes
	stmt *cachedStmt
}

// Close resets the statement (the driver keeps it prepared) and frees it.
func (r *cachedRows) Close() error {
	err := r.rowsWithTypes.Close()
	r.stmt.busy = false
	return err
}
