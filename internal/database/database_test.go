package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent/migrate"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// TestMigrationsMatchSchema fails when ent/schema changed without a new
// migration: after every migration, ent would still change the database.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	db, err := database.Open(context.Background(), apitest.FreshDatabase(t), database.Options{})
	require.NoError(t, err)
	defer db.Close()
	var buf bytes.Buffer
	require.NoError(t, db.Client.Schema.WriteTo(context.Background(), &buf, migrate.WithDropColumn(true), migrate.WithDropIndex(true)))
	var changes []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" && line != "BEGIN;" && line != "COMMIT;" {
			changes = append(changes, line)
		}
	}
	require.Empty(t, changes, "the migrations lag behind ent/schema: run go run ./internal/database/gen/main.go NAME")
}

// TestConcurrentStartsMigrateOnce starts ten instances on one empty
// database at once: every one must come up, and each migration must be
// applied exactly once.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	t.Parallel()
	url := apitest.FreshDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			db, err := database.Open(context.Background(), url, database.Options{})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "instance %d", i)
	}
	driver, dir := "sqlite", "migrations/sqlite3"
	if database.IsPostgres(url) {
		driver, dir = "pgx", "migrations/postgres"
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	require.NoError(t, err)
	db, err := sql.Open(driver, url)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT version FROM schema_migrations")
	require.NoError(t, err)
	defer rows.Close()
	var versions []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.NoError(t, rows.Err())
	require.Len(t, versions, len(files), "applied migrations: %v, files: %v", versions, files)
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"file:data/bitgate.db", "file:data/bitgate.db"},
	} {
		if got := database.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSQLiteSynchronous: SQLite's synchronous setting is in effect on every
// connection of the pool, not only on the first: NORMAL (1) by default,
// FULL (2) when asked for.
func TestSQLiteSynchronous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		want    int
	}{{"", 1}, {"normal", 1}, {database.SynchronousFull, 2}} {
		t.Run("setting "+tc.setting, func(t *testing.T) {
			t.Parallel()
			db, err := database.Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "s.db"), database.Options{Synchronous: tc.setting})
			require.NoError(t, err)
			defer db.Close()
			// Hold several connections at once, so that the pool must open
			// each of them.
			conns := make([]*sql.Conn, 4)
			for i := range conns {
				conns[i], err = db.SQL.Conn(t.Context())
				require.NoError(t, err)
				defer conns[i].Close()
			}
			for i, conn := range conns {
				var got int
				require.NoError(t, conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got))
				require.Equal(t, tc.want, got, "PRAGMA synchronous on connection %d", i)
			}
		})
	}
	_, err := database.Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "s.db"), database.Options{Synchronous: "OFF"})
	require.ErrorContains(t, err, "want NORMAL or FULL")
}

// TestWriteFaultThroughReturning: on PostgreSQL ent inserts a row with a
// database-made id by INSERT … RETURNING, a query whose error comes with
// its rows; a read-only session's refusal there still marks writes
// failing.
func TestWriteFaultThroughReturning(t *testing.T) {
	t.Parallel()
	url := apitest.FreshDatabase(t)
	if !database.IsPostgres(url) {
		t.Skip("SQLite has no read-only sessions")
	}
	db, err := database.Open(t.Context(), url, database.Options{})
	require.NoError(t, err)
	defer db.Close()
	db.SQL.SetMaxOpenConns(1) // one session, made read-only
	_, err = db.SQL.ExecContext(t.Context(), "SET default_transaction_read_only = on")
	require.NoError(t, err)
	require.NoError(t, db.Ready(t.Context()), "no write failed yet")

	err = db.Client.AddressLimit.Create().SetKey("signin 192.0.2.1").SetFullAt(time.Now()).Exec(t.Context())
	require.ErrorContains(t, err, "read-only transaction")
	require.ErrorIs(t, db.Ready(t.Context()), database.ErrWritesFailing)
}
