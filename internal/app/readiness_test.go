package app_test

import (
	"database/sql"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// TestReadyzWhenWritesFail breaks the database's writes under a running
// server, the way production breaks them: on SQLite the disk fills up (the
// process may not grow its files: RLIMIT_FSIZE), on PostgreSQL the
// database turns read-only (as a standby after a failover does). /readyz
// answers 503 while writes fail, though reads still work, and 200 again
// once a write gets through. Before, /readyz only checked a read and said
// 200 throughout.
//
// Not parallel: on SQLite the limit holds for every file of this process.
func TestReadyzWhenWritesFail(t *testing.T) {
	c := apitest.New(t)
	u := c.SignUp(t)
	requireReady(t, c)

	var breakWrites, mendWrites func()
	if database.IsPostgres(c.DatabaseURL) {
		breakWrites, mendWrites = readOnlyDatabase(t, c.DatabaseURL)
	} else {
		breakWrites, mendWrites = fullDisk(t, c.DatabaseURL)
	}
	breakWrites()
	// On PostgreSQL the first statement on each pooled connection may fail
	// otherwise: its backend was ended so that the next one reads the new
	// default.
	for range 3 {
		// The database's fault, not a bug: retry later.
		apitest.RequireUnavailable(t, c.Do(t, u.Token, apitest.OpCreateNote, noteInput()))
		if c.Readyz(t).Status != http.StatusOK {
			break
		}
	}
	for range 2 { // the second time, /readyz's own probe write fails
		r := c.Readyz(t)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "/readyz while writes fail: %s", r.Body)
		require.Equal(t, "not ready: writes failing\n", string(r.Body))
	}
	require.Equal(t, u.ID, c.Me(t, u.Token).ID, "reads still work")

	mendWrites()
	requireReady(t, c) // the probe write succeeds: no request needed
	apitest.Data[map[string]any](t, c.Do(t, u.Token, apitest.OpCreateNote, noteInput()), "createNote")
}

// TestNotReadyAtStartWhileWritesFail starts a server on a database that
// does not take writes (on SQLite a full disk, which leaves the files of
// the running instance readable; on PostgreSQL every write to the probe's
// table refused with disk_full, as a full disk refuses them): it logs why
// at start, /readyz answers 503 before any request wrote, and 200 once a
// write gets through. Before, a restart on a full disk said ready until
// the first write failed.
//
// Not parallel: on SQLite the limit holds for every file of this process.
func TestNotReadyAtStartWhileWritesFail(t *testing.T) {
	running := apitest.New(t)
	var breakWrites, mendWrites func()
	if database.IsPostgres(running.DatabaseURL) {
		breakWrites, mendWrites = probeDiskFull(t, running.DatabaseURL)
	} else {
		breakWrites, mendWrites = fullDisk(t, running.DatabaseURL)
	}
	breakWrites()
	logs := &apitest.Log{}
	c := apitest.New(t, apitest.Options{DatabaseURL: running.DatabaseURL, Log: logs})
	require.Regexp(t, `level=WARN msg="not ready" error="writes failing: .*(I/O error on the database file|SQLSTATE 53100)`, logs.String(), "said at start")

	for range 2 {
		r := c.Readyz(t)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "/readyz while writes fail: %s", r.Body)
		require.Equal(t, "not ready: writes failing\n", string(r.Body))
	}
	require.Equal(t, 1, strings.Count(logs.String(), `msg="not ready"`), "said once, not at every /readyz")

	mendWrites()
	requireReady(t, c)
	require.Contains(t, logs.String(), `level=INFO msg=ready`)
}

// probeDiskFull returns functions that make every insert into the
// PostgreSQL database's schema_migrations (the readiness probe's table)
// fail with disk_full, as a full disk would, and that end it.
func probeDiskFull(t *testing.T, url string) (fill, free func()) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	exec := func(stmts ...string) func() {
		return func() {
			for _, stmt := range stmts {
				_, err := db.Exec(stmt)
				require.NoError(t, err, stmt)
			}
		}
	}
	return exec(
			`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$`,
			`CREATE TRIGGER disk_full BEFORE INSERT ON schema_migrations FOR EACH ROW EXECUTE FUNCTION disk_full()`,
		),
		exec(`DROP TRIGGER disk_full ON schema_migrations`)
}

// requireReady requires /readyz to answer 200 within a few tries (on
// PostgreSQL a pooled connection whose backend was ended fails once).
func requireReady(t *testing.T, c *apitest.Client) {
	t.Helper()
	var r *apitest.Response
	for range 3 {
		if r = c.Readyz(t); r.Status == http.StatusOK {
			return
		}
	}
	t.Fatalf("/readyz answers %d: %s", r.Status, r.Body)
}

// noteInput is createNote's variables for a fresh note.
func noteInput() apitest.Vars {
	return apitest.Vars{"in": map[string]any{"title": apitest.Unique("note"), "content": "some content"}}
}

// fullDisk returns functions that fill and free the disk of the SQLite
// database at url: the first limits the size of files this process writes
// to the present size of the database's WAL, so that no commit fits; the
// second lifts the limit (as does the test's end).
func fullDisk(t *testing.T, url string) (fill, free func()) {
	t.Helper()
	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_FSIZE, &old))
	free = func() { require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &old)) }
	t.Cleanup(free)
	fill = func() {
		wal, err := os.Stat(strings.TrimPrefix(url, "file:") + "-wal")
		require.NoError(t, err)
		full := old
		full.Cur = uint64(wal.Size())
		require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &full))
	}
	return fill, free
}

// readOnlyDatabase returns functions that make the PostgreSQL database at
// url read-only and writable again, each by changing its
// default_transaction_read_only and ending every other backend on it, so
// that the server's connections start new sessions that read it.
func readOnlyDatabase(t *testing.T, url string) (readOnly, writable func()) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	set := func(on string) func() {
		return func() {
			_, err := db.Exec(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = ` + on + `', current_database()); END $$`)
			require.NoError(t, err)
			_, err = db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
			require.NoError(t, err)
		}
	}
	return set("on"), set("off")
}

// TestReadyzWhenMigrationsMissing deletes the record of an applied
// migration under a running server (as restoring an older backup would):
// /readyz answers 503 and names the reason.
func TestReadyzWhenMigrationsMissing(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	requireReady(t, c)
	driver := "sqlite"
	if database.IsPostgres(c.DatabaseURL) {
		driver = "pgx"
	}
	db, err := sql.Open(driver, c.DatabaseURL)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("DELETE FROM schema_migrations")
	require.NoError(t, err)

	r := c.Readyz(t)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "not ready: migrations missing\n", string(r.Body))
}
