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
	_ "time/tzdata" // the zones of TestUpgradeRewritesTimestamps

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent/migrate"
	"bitgate/ent/session"
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
// database at once: every one must come up, and each migration file must
// be applied exactly once.
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

// openMigratedBefore returns the database at url with the migrations older
// than version applied, as a release before that version left it, for a
// test to fill before database.Open upgrades it.
func openMigratedBefore(t *testing.T, url, version string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", strings.TrimPrefix(url, "file:")+"?_pragma=foreign_keys(1)"
	if database.IsPostgres(url) {
		driver, dsn = "pgx", url
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	stmts := []string{"CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)"}
	for _, f := range migrationFiles(t, url) {
		if f.Version() >= version {
			break
		}
		s, err := f.Stmts()
		require.NoError(t, err)
		stmts = append(append(stmts, s...), "INSERT INTO schema_migrations (version) VALUES ('"+f.Version()+"')")
	}
	for _, s := range stmts {
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
	db := openMigratedBefore(t, url, migrationFiles(t, url)[1].Version())
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
	opened, err := database.Open(ctx, url, database.Options{})
	require.NoError(t, err)
	defer opened.Close()
	client := opened.Client
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

// TestUpgradeRewritesTimestamps fills an SQLite database of the releases
// before utcMigration with times as their driver wrote them,
// time.Time.String() in the writer's zone with the monotonic clock
// reading, into every datetime column, and upgrades it: every value must
// then read as the same instant, stored in UTC in SQLite's format, exactly
// as the driver writes a time now, so that SQL compares stored times with
// arguments correctly.
func TestUpgradeRewritesTimestamps(t *testing.T) {
	t.Parallel()
	const utcMigration = "20261127060000" // …_utc_timestamps.sql
	url := apitest.FreshDatabase(t)
	if database.IsPostgres(url) {
		t.Skip("PostgreSQL stores timestamptz, an instant whatever the zone")
	}
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		return loc
	}
	// Instants and the zones of the servers that wrote them; the old
	// driver wrote a time as its String(), which ends with the monotonic
	// reading for times derived from time.Now.
	samples := []struct {
		at        time.Time
		zone      *time.Location
		monotonic string
	}{
		{time.Date(2026, 12, 27, 3, 34, 39, 156343665, time.UTC), time.UTC, " m=+2592000.671864436"},
		{time.Date(2026, 12, 27, 3, 34, 39, 156343665, time.UTC), zone("Pacific/Kiritimati"), " m=+2592000.671864436"},
		{time.Date(2026, 12, 27, 3, 34, 39, 0, time.UTC), zone("America/New_York"), ""},
		{time.Date(2026, 7, 1, 8, 34, 39, 500_000_000, time.UTC), zone("America/St_Johns"), " m=+0.000012001"},
		{time.Date(2027, 1, 1, 9, 59, 59, 999_999_999, time.UTC), zone("Pacific/Honolulu"), " m=-1.5"},
		{time.Date(2026, 3, 8, 7, 0, 0, 1, time.UTC), zone("America/New_York"), ""},
		{time.Date(2026, 5, 5, 23, 59, 0, 120_000_000, time.UTC), zone("Asia/Kathmandu"), " m=+86400.25"},
	}
	db := openMigratedBefore(t, url, utcMigration)
	written := 0
	old := func(i int) string { // sample i as the old driver stored it
		written++
		s := samples[i%len(samples)]
		return s.at.In(s.zone).String() + s.monotonic
	}
	sample := func() string { return old(written) } // the samples in turn
	const expires = 1                               // the session's expires_at: written at UTC+14
	userID, sessionID := "0190d0b0-0000-7000-8000-000000000001", "0190d0b0-0000-7000-8000-000000000003"
	for _, ins := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO users (id, created_at, updated_at, first_name, last_name, email, password_hash) VALUES (?, ?, ?, 'A', 'B', 'a@example.com', '!')",
			[]any{userID, sample(), sample()}},
		{"INSERT INTO books (id, created_at, updated_at, title, author) VALUES ('0190d0b0-0000-7000-8000-000000000004', ?, ?, 't', 'a')",
			[]any{sample(), sample()}},
		{"INSERT INTO notes (id, created_at, updated_at, title, content, owner_id) VALUES ('0190d0b0-0000-7000-8000-000000000002', ?, ?, 't', 'c', ?)",
			[]any{sample(), sample(), userID}},
		{"INSERT INTO sessions (id, created_at, updated_at, refresh_hash, expires_at, revoked_at, last_used_at, user_id) VALUES (?, ?, ?, 'h1', ?, ?, ?, ?)",
			[]any{sessionID, sample(), sample(), old(expires), sample(), sample(), userID}},
		{"INSERT INTO sessions (id, created_at, updated_at, refresh_hash, expires_at, user_id) VALUES ('0190d0b0-0000-7000-8000-000000000005', ?, ?, 'h2', ?, ?)",
			[]any{sample(), sample(), sample(), userID}},
		{"INSERT INTO spent_tokens (hash, spent_at, session_id) VALUES ('s', ?, ?)", []any{sample(), sessionID}},
		{"INSERT INTO lockouts (email, failures, locked_until, updated_at) VALUES ('a@example.com', 5, ?, ?)", []any{sample(), sample()}},
		{"INSERT INTO lockouts (email, failures, updated_at) VALUES ('b@example.com', 1, ?)", []any{sample()}},
		{"INSERT INTO signing_keys (id, algorithm, public_key, private_key, created_at, active_from) VALUES ('k', 'EdDSA', x'00', x'00', ?, ?)",
			[]any{sample(), sample()}},
		{"INSERT INTO address_limits (key, full_at) VALUES ('signin 192.0.2.1', ?)", []any{sample()}},
		{"INSERT INTO audit_events (id, created_at, action) VALUES ('0190d0b0-0000-7000-8000-000000000006', ?, 'signin')", []any{sample()}},
	} {
		_, err := db.Exec(ins.sql, ins.args...)
		require.NoError(t, err, "%s", ins.sql)
	}
	// Every datetime column, in the order they were filled.
	var stored []string
	rows, err := db.Query(`SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.type = 'datetime' ORDER BY m.name, p.cid`)
	require.NoError(t, err)
	var columns [][2]string
	for rows.Next() {
		var c [2]string
		require.NoError(t, rows.Scan(&c[0], &c[1]))
		columns = append(columns, c)
	}
	require.NoError(t, rows.Err())

	opened, err := database.Open(context.Background(), url, database.Options{})
	require.NoError(t, err)
	defer opened.Close()
	client := opened.Client

	// Each stored value is now one of the samples, written as the driver
	// writes it (UTC, SQLite's format); SQLite's julianday reads it.
	want := map[string]time.Time{}
	for _, s := range samples {
		want[s.at.UTC().Format("2006-01-02 15:04:05.999999999-07:00")] = s.at
	}
	for _, c := range columns {
		// The text as stored: the driver would parse a datetime column.
		rows, err := db.Query("SELECT CAST(" + c[1] + " AS TEXT), julianday(" + c[1] + ") FROM " + c[0])
		require.NoError(t, err)
		before := len(stored)
		for rows.Next() {
			var v sql.NullString
			var jd sql.NullFloat64
			require.NoError(t, rows.Scan(&v, &jd))
			if v.Valid {
				stored = append(stored, v.String)
				require.Contains(t, want, v.String, "%s.%s holds %q", c[0], c[1], v.String)
				require.True(t, jd.Valid, "SQLite cannot read %s.%s = %q", c[0], c[1], v.String)
			}
		}
		require.NoError(t, rows.Err())
		require.Greater(t, len(stored), before, "the test wrote no time into %s.%s", c[0], c[1])
	}
	require.Len(t, stored, written, "every time written is there once")

	// ent reads the instants back, and SQL compares them to arguments in
	// any zone to the nanosecond.
	ctx := context.Background()
	s := client.Session.GetX(ctx, uuid.MustParse(sessionID))
	exp := samples[expires].at
	require.True(t, s.ExpiresAt.Equal(exp), "expires_at read as %v, want %v", s.ExpiresAt, exp)
	require.NotNil(t, s.RevokedAt)
	inKiritimati := exp.In(zone("Pacific/Kiritimati"))
	require.True(t, client.Session.Query().Where(session.ID(s.ID), session.ExpiresAtGT(inKiritimati.Add(-time.Nanosecond))).ExistX(ctx))
	require.False(t, client.Session.Query().Where(session.ID(s.ID), session.ExpiresAtGT(inKiritimati)).ExistX(ctx))
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
