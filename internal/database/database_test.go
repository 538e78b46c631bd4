package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	client, err := database.Open(context.Background(), apitest.FreshDatabase(t), database.Pool{})
	require.NoError(t, err)
	defer client.Close()
	var buf bytes.Buffer
	require.NoError(t, client.Schema.WriteTo(context.Background(), &buf, migrate.WithDropColumn(true), migrate.WithDropIndex(true)))
	var changes []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" && line != "BEGIN;" && line != "COMMIT;" {
			changes = append(changes, line)
		}
	}
	require.Empty(t, changes, "the migrations lag behind ent/schema: run go run ./internal/database/gen/main.go NAME")
}

// TestConcurrentStartsMigrateOnce starts ten instances on one empty
// database at once: every one must come up, and each migration file must
// be applied exactly once.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	t.Parallel()
	url := apitest.FreshDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			client, err := database.Open(context.Background(), url, database.Pool{})
			if err == nil {
				err = client.Close()
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
