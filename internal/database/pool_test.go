package database

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// openSQLite opens a fresh SQLite file as Open does, with the default pool.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	_, _, db, err := openDB(t.Context(), "file:"+filepath.Join(t.TempDir(), "pool.db"), "")
	require.NoError(t, err)
	Pool{}.apply(db)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSQLitePoolIsBoundedAndKept holds many more concurrent queries than the
// pool's bound: no more connections than the bound are opened, and every
// one of them stays open for the next request instead of being closed.
func TestSQLitePoolIsBoundedAndKept(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	const heavy = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20000) SELECT count(*) FROM n`
	var wg sync.WaitGroup
	for range 5 * defaults.Pool.MaxOpenConns {
		wg.Go(func() {
			var n int
			if err := db.QueryRow(heavy).Scan(&n); err != nil || n != 20000 {
				t.Errorf("count = %d, %v", n, err)
			}
		})
	}
	wg.Wait()
	st := db.Stats()
	require.Equal(t, defaults.Pool.MaxOpenConns, st.MaxOpenConnections, "pool bound")
	require.LessOrEqual(t, st.OpenConnections, defaults.Pool.MaxOpenConns)
	require.Equal(t, st.OpenConnections, st.Idle, "connections kept for the next request")
	require.Zero(t, st.MaxIdleClosed, "idle connections closed: each costs a reopen under load")
}

// TestStatementCache runs statements on one SQLite connection: a statement
// is prepared once and reused; a second run while rows of the first are
// still open is answered correctly (uncached); the cache stays bounded.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	var stmts map[string]*cachedStmt
	require.NoError(t, conn.Raw(func(dc any) error {
		stmts = dc.(*cachingConn).stmts
		return nil
	}))

	var first *cachedStmt
	for i := range 3 {
		var got int
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT ? + 1", i).Scan(&got))
		require.Equal(t, i+1, got)
		if i == 0 {
			first = stmts["SELECT ? + 1"]
		}
	}
	require.NotNil(t, first)
	require.Same(t, first, stmts["SELECT ? + 1"], "one statement, prepared once")

	outer, err := conn.QueryContext(ctx, "SELECT value FROM json_each(?)", "[1,2,3]")
	require.NoError(t, err)
	var sum int
	for outer.Next() {
		var v int
		require.NoError(t, outer.Scan(&v))
		// The same statement again while its rows are open.
		var inner int
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT value FROM json_each(?)", fmt.Sprintf("[%d]", 10*v)).Scan(&inner))
		sum += v + inner
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.Equal(t, 66, sum)

	_, err = conn.ExecContext(ctx, "CREATE TABLE t (v integer)")
	require.NoError(t, err)
	for i := range 2 * maxCachedStmts {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO t (v) VALUES (?) -- %d", i), i)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, len(stmts), maxCachedStmts, "cache bound")
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
	require.Equal(t, 2*maxCachedStmts, n)
}
