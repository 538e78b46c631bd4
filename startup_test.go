package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/database"
)

// TestCorruptSQLiteFileRefused corrupts five data pages of an SQLite file
// and starts bitgate on it: it must refuse to start, exit 1 and say that
// the file is corrupt. Before, it started, said ready, and failed the
// queries that read those pages.
func TestCorruptSQLiteFileRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bitgate.db")
	db, err := database.Open(t.Context(), "file:"+path, database.Options{})
	require.NoError(t, err)
	for i := range 200 {
		_, err := db.Client.Book.Create().SetTitle(strings.Repeat("a title ", 50) + strconv.Itoa(i)).SetAuthor("an author").Save(t.Context())
		require.NoError(t, err)
	}
	require.NoError(t, db.Close()) // checkpoints the WAL into the file

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	const pageSize = 4096
	info, err := f.Stat()
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(30*pageSize), "the books fill pages")
	garbage := bytes.Repeat([]byte{0xA5}, 5*pageSize)
	_, err = f.WriteAt(garbage, 20*pageSize) // pages 21 to 25 hold books
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := runBitgate(t, map[string]string{"DATABASE_URL": "file:" + path, "ADDR": "127.0.0.1:0"})
	require.Equal(t, 1, r.status, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, "database file is corrupt: "+path)
	require.Contains(t, r.stderr, "quick_check")
}
