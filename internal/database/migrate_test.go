package database

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"
)

// rebuild is how atlas changes an SQLite table it cannot ALTER: a new table,
// the rows copied, the old one dropped, the new one renamed, between
// PRAGMA foreign_keys lines that SQLite ignores inside a transaction.
const rebuild = `PRAGMA foreign_keys = off;
CREATE TABLE new_parents (id integer NOT NULL, at datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), PRIMARY KEY (id));
INSERT INTO new_parents (id) SELECT id FROM parents;
DROP TABLE parents;
ALTER TABLE new_parents RENAME TO parents;
PRAGMA foreign_keys = on;
`

// sqliteFile opens a fresh SQLite file as Open does (foreign keys on) and
// creates a parent and a child that references it with ON DELETE CASCADE,
// one row each.
func sqliteFile(t *testing.T) (context.Context, *sql.DB, func(stmts string) error, func() int) {
	t.Helper()
	ctx := t.Context()
	_, _, db, err := openDB(ctx, "file:"+filepath.Join(t.TempDir(), "m.db"), "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
		`CREATE TABLE parents (id integer PRIMARY KEY)`,
		`CREATE TABLE children (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES parents (id) ON DELETE CASCADE)`,
		`INSERT INTO parents (id) VALUES (1)`,
		`INSERT INTO children (id, parent_id) VALUES (1, 1)`,
	} {
		_, err := db.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
	run := func(stmts string) error {
		dir := &atlas.MemDir{}
		require.NoError(t, dir.WriteFile("20260101000000_rebuild.sql", []byte(stmts)))
		files, err := dir.Files()
		require.NoError(t, err)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		return apply(ctx, conn, dialect.SQLite, files[0])
	}
	children := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM children").Scan(&n))
		return n
	}
	return ctx, db, run, children
}

// TestSQLiteRebuildKeepsReferencingRows applies a table rebuild as atlas
// writes it: the rows that reference the rebuilt table must survive, and
// foreign keys must be enforced again afterwards.
func TestSQLiteRebuildKeepsReferencingRows(t *testing.T) {
	ctx, db, run, children := sqliteFile(t)
	require.NoError(t, run(rebuild))
	require.Equal(t, 1, children(), "the rebuild cascaded into the rows that reference the table")
	_, err := db.ExecContext(ctx, "INSERT INTO children (id, parent_id) VALUES (2, 99)")
	require.ErrorContains(t, err, "FOREIGN KEY", "foreign keys are enforced again")
}

// TestSQLiteMigrationForeignKeyCheck refuses a migration that leaves a row
// referencing nothing, and applies none of it.
func TestSQLiteMigrationForeignKeyCheck(t *testing.T) {
	_, _, run, children := sqliteFile(t)
	err := run(rebuild + "DELETE FROM parents;\n")
	require.ErrorContains(t, err, "foreign key")
	require.Equal(t, 1, children())
}
