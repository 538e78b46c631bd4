// Package database opens the ent client on SQLite or PostgreSQL and brings
// the schema up to date with the versioned migrations in migrations/.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"bitgate/ent"
	"bitgate/internal/settings"
)

// Pool configures the connection pool, on SQLite as on PostgreSQL. Its
// fields are settings (see internal/settings); Open gives a zero
// MaxOpenConns its default.
type Pool struct {
	// MaxOpenConns bounds the connections of an instance: by default
	// enough for every request a 2-core server can run at once and for
	// writers waiting on SQLite's lock, far below PostgreSQL's
	// max_connections.
	MaxOpenConns int `flag:"db-max-open-conns" env:"DB_MAX_OPEN_CONNS" default:"20" help:"database connections per instance"`
	// MaxIdleConns bounds the idle connections kept; 0 (or more than
	// MaxOpenConns) keeps all of them.
	MaxIdleConns int `flag:"db-max-idle-conns" env:"DB_MAX_IDLE_CONNS" help:"idle database connections kept per instance (0: all of them)"`
	// ConnMaxLifetime is how long a connection is reused; 0 means for ever.
	ConnMaxLifetime time.Duration `flag:"db-conn-max-lifetime" env:"DB_CONN_MAX_LIFETIME" default:"30m" help:"how long a database connection is reused"`
}

// apply sets the pool's bounds on db. Idle connections are kept up to the
// maximum: a connection closed under load is one opened again a moment
// later (on SQLite with its pragmas, on PostgreSQL with a new backend).
func (p Pool) apply(db *sql.DB) {
	open := p.MaxOpenConns
	if open <= 0 {
		open = defaults.Pool.MaxOpenConns
	}
	idle := p.MaxIdleConns
	if idle <= 0 || idle > open {
		idle = open
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
}

// SQLite's synchronous settings that Options.Synchronous may name. In WAL
// mode NORMAL syncs at checkpoints only: a commit survives a crash of the
// process, but a power loss or an operating system crash may undo the last
// transactions. FULL also syncs the WAL at every commit.
const (
	SynchronousNormal = "NORMAL"
	SynchronousFull   = "FULL"
)

// Options are how Open opens a database. The tagged fields are settings
// (see internal/settings); Open gives a zero one its default, so that the
// zero Options are the defaults.
type Options struct {
	// Pool configures the connection pool, on SQLite as on PostgreSQL.
	Pool Pool
	// Synchronous is SQLite's synchronous setting on every connection:
	// SynchronousNormal or SynchronousFull, in any case.
	Synchronous string `flag:"sqlite-synchronous" env:"SQLITE_SYNCHRONOUS" default:"NORMAL" help:"NORMAL: an SQLite commit survives a crash of the process; FULL: also a power loss or an OS crash, at the cost of a sync per commit"`
	// CallTimeout bounds each statement and each transaction through
	// Client, on either database (see timeoutDriver).
	CallTimeout time.Duration `flag:"db-timeout" env:"DB_TIMEOUT" default:"5s" help:"how long one database statement or transaction may take"`
	// EntOptions are added to the ent client's (a query counter, say).
	EntOptions []ent.Option
	// Outages, if set, hears of every call through Client that the
	// database answered, which ends an outage it logs.
	Outages *OutageLog
}

// defaults are the Options' declared defaults.
var defaults = settings.Default[Options]()

// Validate returns an error if CallTimeout is not positive or Synchronous
// is neither NORMAL nor FULL (in any case, which it makes upper case).
func (o *Options) Validate() error {
	o.Synchronous = strings.ToUpper(o.Synchronous)
	switch {
	case o.CallTimeout <= 0:
		return errors.New("DB_TIMEOUT must be positive")
	case o.Synchronous != SynchronousNormal && o.Synchronous != SynchronousFull:
		return fmt.Errorf("SQLITE_SYNCHRONOUS must be NORMAL or FULL, not %q", o.Synchronous)
	}
	return nil
}

// DB is an open, migrated database.
type DB struct {
	// Client is the ent client over the database.
	Client *ent.Client
	// SQL is the database/sql handle under Client, for statements ent
	// cannot write and for the pool's statistics.
	SQL *sql.DB
	// Dialect is dialect.SQLite or dialect.Postgres.
	Dialect string

	path     string      // of the SQLite file; empty on PostgreSQL
	versions []string    // of the embedded migrations
	writes   *writeWatch // how the last write through Client ended
}

// Open opens the database at rawURL, applies the pending migrations under a
// lock, checks that it takes a write, and returns it, every call through
// its Client bounded by opts.CallTimeout. A postgres:// or postgresql://
// URL is PostgreSQL through pgx; a file: URL (or any other path) is an
// SQLite file, opened in WAL mode with foreign keys on, a busy timeout,
// opts.Synchronous, immediate transactions (so that a transaction that
// writes never fails to upgrade its lock) and times stored in UTC, after
// PRAGMA quick_check found it sound. When the check's write fails for a
// reason of the database's own (a full disk, a read-only database), the
// database opens with its writes failing: Ready says so until a write
// succeeds. Returns an error wrapping ErrCorrupt, ErrReadOnly,
// ErrDiskFull, ErrIO or ErrCannotOpen for an SQLite file that cannot be
// opened, read or migrated for that reason; an error if opts.Synchronous
// is neither NORMAL nor FULL, or if the database cannot be opened or
// migrated.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	d, path, sqlDB, err := openDB(ctx, rawURL, opts.Synchronous)
	if err != nil {
		return nil, err
	}
	opts.Pool.apply(sqlDB)
	db := &DB{SQL: sqlDB, Dialect: d, path: path, writes: &writeWatch{}}
	if db.versions, err = migrate(ctx, sqlDB, d); err != nil {
		sqlDB.Close()
		if fault := db.fault(err); fault != err {
			return nil, fault
		}
		return nil, fmt.Errorf("migrate %s: %w", Redact(rawURL), err)
	}
	if err := db.probeWrite(ctx); err != nil {
		if !isWriteFault(err) {
			sqlDB.Close()
			return nil, err
		}
		db.writes.failed(err)
	}
	drv := watchedDriver{newTimeoutDriver(entsql.OpenDB(d, sqlDB), opts.CallTimeout), db.writes, opts.Outages}
	db.Client = ent.NewClient(append([]ent.Option{ent.Driver(drv)}, opts.EntOptions...)...)
	return db, nil
}

// fault returns err wrapped in the fault of the SQLite file it shows (see
// sqliteFault), or err itself on PostgreSQL.
func (db *DB) fault(err error) error {
	if db.path == "" {
		return err
	}
	return sqliteFault(db.path, err)
}

// Close closes the database.
func (db *DB) Close() error { return db.Client.Close() }

// IsPostgres reports whether rawURL selects PostgreSQL.
func IsPostgres(rawURL string) bool {
	return strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")
}

// openDB opens the database/sql handle and names its ent dialect and, on
// SQLite, the file's path. synchronous is SQLite's setting (empty:
// NORMAL); an SQLite file is checked (quickCheck).
func openDB(ctx context.Context, rawURL, synchronous string) (d, path string, db *sql.DB, err error) {
	if IsPostgres(rawURL) {
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			return "", "", nil, fmt.Errorf("open %s: %w", Redact(rawURL), err)
		}
		// The server's transactions are written for READ COMMITTED: they
		// take the row locks they need (the lockout row's upsert, FOR
		// SHARE), and each statement sees what committed before it. Under
		// a database's default of REPEATABLE READ or SERIALIZABLE,
		// concurrent sign-ins of one email failed with serialization
		// errors instead.
		cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
		return dialect.Postgres, "", stdlib.OpenDB(*cfg), nil
	}
	switch synchronous = strings.ToUpper(synchronous); synchronous {
	case "":
		synchronous = defaults.Synchronous
	case SynchronousNormal, SynchronousFull:
	default:
		return "", "", nil, fmt.Errorf("SQLite synchronous setting %q: want NORMAL or FULL", synchronous)
	}
	path, _ = strings.CutPrefix(rawURL, "file:")
	path, _, _ = strings.Cut(path, "?")
	if path == "" {
		return "", "", nil, fmt.Errorf("DATABASE_URL %q names no SQLite file", Redact(rawURL))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", nil, fmt.Errorf("create database directory: %w", err)
	}
	// The file holds password hashes: readable by its owner only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", "", nil, sqliteFault(path, err)
	}
	f.Close()
	// Times are written in UTC in SQLite's own format, whatever the zone of
	// the value or of the process ("2026-12-27 03:34:39.156343665+00:00"),
	// so that SQLite's date functions read them and SQL compares them as
	// text in time order; the driver's default was time.Time.String() in
	// the value's zone. Times read back are in UTC.
	// The driver runs each _pragma on every connection it opens.
	dsn := "file:" + path + "?_txlock=immediate&_time_format=sqlite&_timezone=UTC" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(" + synchronous + ")"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return "", "", nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db = sql.OpenDB(stmtCache{connector})
	if err := quickCheck(ctx, db, path); err != nil {
		db.Close()
		return "", "", nil, err
	}
	return dialect.SQLite, path, db, nil
}

// Redact hides the password of a database URL, for errors and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
