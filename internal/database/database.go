// Package database opens the ent client on SQLite or PostgreSQL and brings
// the schema up to date with the versioned migrations in migrations/.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"modernc.org/sqlite"

	"bitgate/ent"
)

// Pool configures the connection pool, on SQLite as on PostgreSQL. Zero
// fields take the defaults: DefaultMaxOpenConns connections, all of them
// kept when idle, reused for ever.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// DefaultMaxOpenConns bounds the connections of an instance: enough for
// every request a 2-core server can run at once and for writers waiting
// on SQLite's lock, far below PostgreSQL's max_connections.
const DefaultMaxOpenConns = 20

// apply sets the pool's bounds on db. Idle connections are kept up to the
// maximum: a connection closed under load is one opened again a moment
// later (on SQLite with its pragmas, on PostgreSQL with a new backend).
func (p Pool) apply(db *sql.DB) {
	open := p.MaxOpenConns
	if open <= 0 {
		open = DefaultMaxOpenConns
	}
	idle := p.MaxIdleConns
	if idle <= 0 || idle > open {
		idle = open
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
}

// Open opens the database at rawURL, applies the pending migrations under a
// lock, and returns an ent client with extra options. A postgres:// or
// postgresql:// URL is PostgreSQL through pgx; a file: URL (or any other
// path) is an SQLite file, opened in WAL mode with foreign keys on, a busy
// timeout and immediate transactions (so that a transaction that writes
// never fails to upgrade its lock).
func Open(ctx context.Context, rawURL string, pool Pool, opts ...ent.Option) (*ent.Client, error) {
	d, db, err := openDB(rawURL)
	if err != nil {
		return nil, err
	}
	pool.apply(db)
	if err := migrate(ctx, db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", Redact(rawURL), err)
	}
	return ent.NewClient(append([]ent.Option{ent.Driver(entsql.OpenDB(d, db))}, opts...)...), nil
}

// IsPostgres reports whether rawURL selects PostgreSQL.
func IsPostgres(rawURL string) bool {
	return strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")
}

// openDB opens the database/sql handle and names its ent dialect.
func openDB(rawURL string) (string, *sql.DB, error) {
	if IsPostgres(rawURL) {
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return "", nil, fmt.Errorf("open %s: %w", Redact(rawURL), err)
		}
		return dialect.Postgres, db, nil
	}
	path, _ := strings.CutPrefix(rawURL, "file:")
	path, _, _ = strings.Cut(path, "?")
	if path == "" {
		return "", nil, fmt.Errorf("DATABASE_URL %q names no SQLite file", Redact(rawURL))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", nil, fmt.Errorf("create database directory: %w", err)
	}
	// The file holds password hashes: readable by its owner only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("create database file: %w", err)
	}
	f.Close()
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return dialect.SQLite, sql.OpenDB(stmtCache{connector}), nil
}

// Redact hides the password of a database URL, for errors and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
