package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The reasons Ready gives, safe to show.
var (
	ErrMigrationsMissing = errors.New("migrations missing")
	ErrWritesFailing     = errors.New("writes failing")
)

// probeVersion is the row probeWrite writes and takes back.
const probeVersion = "readiness probe"

// Ready reports whether the database can serve: it answers, it holds every
// migration this binary embeds, and it takes writes. After a write failed
// for a reason of the database's own (a full disk, a read-only file or
// database, an I/O error, corruption), Open's own write included, Ready
// tries a write of its own each time it is called until one succeeds, real
// or its own: a load balancer that polls it sends no traffic while it
// fails. Returns an error wrapping ErrMigrationsMissing, or
// ErrWritesFailing and the error of its write, or the error of the query.
func (db *DB) Ready(ctx context.Context) error {
	missing, err := db.missingMigrations(ctx)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMigrationsMissing, strings.Join(missing, ", "))
	}
	if db.writes.lastFault() != nil {
		if err := db.probeWrite(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrWritesFailing, err)
		}
		db.writes.succeeded()
	}
	return nil
}

// missingMigrations returns the versions of the embedded migrations that
// schema_migrations does not list.
func (db *DB) missingMigrations(ctx context.Context) ([]string, error) {
	rows, err := db.SQL.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var applied []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	var missing []string
	for _, v := range db.versions {
		if !slices.Contains(applied, v) {
			missing = append(missing, v)
		}
	}
	return missing, nil
}

// probeWrite inserts a row into schema_migrations and deletes it in one
// transaction, whose commit must reach the disk: SQLite does not write a
// page whose bytes stay the same, so an UPDATE to the same value would
// prove nothing.
func (db *DB) probeWrite(ctx context.Context) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return db.fault(fmt.Errorf("probe write: begin: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	arg := placeholder(db.Dialect)
	for _, q := range []string{
		"INSERT INTO schema_migrations (version) VALUES (" + arg + ")",
		"DELETE FROM schema_migrations WHERE version = " + arg,
	} {
		if _, err := tx.ExecContext(ctx, q, probeVersion); err != nil {
			return db.fault(fmt.Errorf("probe write: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return db.fault(fmt.Errorf("probe write: commit: %w", err))
	}
	return nil
}

// quickCheck runs SQLite's PRAGMA quick_check on the file at path: it reads
// every page and checks the b-trees (but not that indexes match their
// tables). It is the first statement on the file, so it also meets a file
// that cannot be opened, read or written (see sqliteFault). Returns an
// error wrapping ErrCorrupt that lists the first problems, one wrapping
// another fault, or the query's error.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	failed := func(err error) error {
		if fault := sqliteFault(path, err); fault != err {
			return fault
		}
		return fmt.Errorf("check %s: %w", path, err)
	}
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return failed(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		problems = append(problems, p)
	}
	if err := rows.Err(); err != nil {
		return failed(err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: %s: PRAGMA quick_check found: %s; %s", ErrCorrupt, path, strings.Join(problems, "; "), faultAdvice[ErrCorrupt])
}
