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
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, without cgo

	"bitgate/ent"
)

// Pool configures the connection pool. Zero fields keep database/sql's
// defaults (SQLite ignores the pool: it has one file).
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Open opens the database at rawURL, applies the pending migrations under a
// lock, and returns an ent client with extra options. A postgres:// or
// postgresql:// URL is PostgreSQL through pgx; a file: URL (or any other
// path) is an SQLite file, opened in WAL mode with foreign keys on, a busy
// timeout, immediate transactions (so that a transaction that writes
// never fails to upgrade its lock) and times stored in UTC.
func Open(ctx context.Context, rawURL string, pool Pool, opts ...ent.Option) (*ent.Client, error) {
	d, db, err := openDB(rawURL)
	if err != nil {
		return nil, err
	}
	if d == dialect.Postgres {
		if pool.MaxOpenConns > 0 {
			db.SetMaxOpenConns(pool.MaxOpenConns)
		}
		if pool.MaxIdleConns > 0 {
			db.SetMaxIdleConns(pool.MaxIdleConns)
		}
		if pool.ConnMaxLifetime > 0 {
			db.SetConnMaxLifetime(pool.ConnMaxLifetime)
		}
	}
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
	// Times are written in UTC in SQLite's own format, whatever the zone of
	// the value or of the process ("2026-12-27 03:34:39.156343665+00:00"),
	// so that SQLite's date functions read them and SQL compares them as
	// text in time order; the driver's default was time.Time.String() in
	// the value's zone. Times read back are in UTC.
	dsn := "file:" + path + "?_txlock=immediate&_time_format=sqlite&_timezone=UTC" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return dialect.SQLite, db, nil
}

// Redact hides the password of a database URL, for errors and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
