package database

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
)

// migrations holds the versioned migration files of each dialect, written
// by `go run ./internal/database/gen/main.go NAME` from the ent schema (see
// docs/development.md: it needs MIGRATE_DEV_DATABASE_URL).
//
//go:embed migrations
var migrations embed.FS

// migrationLockID is the PostgreSQL advisory lock that serialises
// migrations across instances starting at once.
const migrationLockID = 0x6269746761746531 // "bitgate1"

// migrate applies the dialect's pending migration files in order, each in
// its own transaction, recording each in schema_migrations, and returns
// the versions of all of them. On PostgreSQL an advisory lock makes
// instances that start together take turns; on SQLite the immediate
// transaction is the lock.
func migrate(ctx context.Context, db *sql.DB, d string) ([]string, error) {
	dir, err := migrationDir(d)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if d == dialect.Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
			return nil, fmt.Errorf("take migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID) //nolint:errcheck // released with the connection anyway
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version varchar(255) PRIMARY KEY,
		applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	versions := make([]string, len(files))
	for i, f := range files {
		if err := apply(ctx, conn, d, f); err != nil {
			return nil, fmt.Errorf("apply %s: %w", f.Name(), err)
		}
		versions[i] = f.Version()
	}
	return versions, nil
}

// apply runs one migration file unless it was applied already. On SQLite,
// foreign keys are not enforced while it runs and are checked before it
// commits: a file may rebuild a table (create, copy, drop, rename), and
// dropping the old table with foreign keys enforced would delete every row
// that references it (ON DELETE CASCADE). SQLite ignores the PRAGMA inside
// a transaction, so it is set on the connection around it.
func apply(ctx context.Context, conn *sql.Conn, d string, f atlas.File) error {
	if d == dialect.SQLite {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
			return fmt.Errorf("suspend foreign keys: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = on") //nolint:errcheck // a failure leaves the connection unusable anyway
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	arg := placeholder(d)
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = "+arg, f.Version()).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	stmts, err := f.Stmts()
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	if d == dialect.SQLite {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version) VALUES ("+arg+")", f.Version()); err != nil {
		return err
	}
	return tx.Commit()
}

// foreignKeyCheck returns an error if a row of the SQLite database
// references a row that does not exist.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("check foreign keys: %w", err)
		}
		return fmt.Errorf("a row of %s references a missing row of %s: foreign key violated", table, parent)
	}
	return rows.Err()
}

// migrationDir loads the embedded files of dialect d and checks them
// against their atlas.sum, so that an edited migration is refused.
func migrationDir(d string) (atlas.Dir, error) {
	root := path.Join("migrations", d)
	entries, err := fs.ReadDir(migrations, root)
	if err != nil {
		return nil, fmt.Errorf("no migrations for %s: %w", d, err)
	}
	dir := &atlas.MemDir{}
	for _, e := range entries {
		b, err := migrations.ReadFile(path.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	if err := atlas.Validate(dir); err != nil {
		return nil, fmt.Errorf("migrations for %s do not match atlas.sum: %w", d, err)
	}
	return dir, nil
}

// placeholder returns the dialect's first query parameter: $1 or ?.
func placeholder(d string) string {
	if d == dialect.Postgres {
		return "$1"
	}
	return "?"
}
