package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
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
// database at once: every one must come up, and each migration must be
// applied exactly once.
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

// migrationFiles returns the migration files of the database at url.
func migrationFiles(t *testing.T, url string) []atlas.File {
	t.Helper()
	d := dialect.SQLite
	if database.IsPostgres(url) {
		d = dialect.Postgres
	}
	dir, err := atlas.NewLocalDir(filepath.Join("migrations", d))
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	return files
}

// openAtFirstMigration returns the database at url with only its first
// migration applied, as the first release left it, for a test to fill
// before database.Open upgrades it.
func openAtFirstMigration(t *testing.T, url string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", strings.TrimPrefix(url, "file:")+"?_pragma=foreign_keys(1)"
	if database.IsPostgres(url) {
		driver, dsn = "pgx", url
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	first := migrationFiles(t, url)[0]
	stmts, err := first.Stmts()
	require.NoError(t, err)
	for _, s := range append(stmts,
		"CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
		"INSERT INTO schema_migrations (version) VALUES ('"+first.Version()+"')",
	) {
		_, err := db.Exec(s)
		require.NoError(t, err, "%s", s)
	}
	return db
}

// TestUpgradeKeepsRows fills a database of the first release and upgrades
// it: every user, note and session must survive the later migrations (a
// migration that rebuilds a table on SQLite could cascade its deletion).
func TestUpgradeKeepsRows(t *testing.T) {
	t.Parallel()
	url := apitest.FreshDatabase(t)
	db := openAtFirstMigration(t, url)
	const (
		userID    = "0190d0b0-0000-7000-8000-000000000001"
		noteID    = "0190d0b0-0000-7000-8000-000000000002"
		sessionID = "0190d0b0-0000-7000-8000-000000000003"
		at        = "'2026-01-02 03:04:05'"
	)
	for _, s := range []string{
		"INSERT INTO users (id, created_at, updated_at, first_name, last_name, email, password_hash, permission_level) VALUES ('" +
			userID + "', " + at + ", " + at + ", 'Ada', 'Lovelace', 'ada@example.com', '!', 1)",
		"INSERT INTO notes (id, created_at, updated_at, title, content, owner_id) VALUES ('" +
			noteID + "', " + at + ", " + at + ", 'title', 'content', '" + userID + "')",
		"INSERT INTO sessions (id, created_at, updated_at, refresh_hash, expires_at, user_id) VALUES ('" +
			sessionID + "', " + at + ", " + at + ", 'hash', " + at + ", '" + userID + "')",
	} {
		_, err := db.Exec(s)
		require.NoError(t, err, "%s", s)
	}
	ctx := context.Background()
	client, err := database.Open(ctx, url, database.Pool{})
	require.NoError(t, err)
	defer client.Close()
	u := client.User.Query().OnlyX(ctx)
	require.Equal(t, "ada@example.com", u.Email)
	require.Zero(t, u.CredentialVersion)
	require.Equal(t, 1, client.Note.Query().CountX(ctx), "notes after the upgrade")
	require.Equal(t, 1, client.Session.Query().CountX(ctx), "sessions after the upgrade")
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
