package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/database"
)

// TestShutdownLetsInFlightRequestsFinish holds a request in its handler,
// ends the server's context (as SIGTERM does), and expects the request to
// complete and new connections to be refused.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &config{ShutdownTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- serveUntil(ctx, srv, ln, cfg, slog.New(slog.DiscardHandler)) }()

	type result struct {
		body string
		err  error
	}
	answered := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answered <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		answered <- result{string(b), err}
	}()
	<-entered
	cancel()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the listener still accepts after shutdown began")
	select {
	case <-served:
		t.Fatal("serveUntil returned while a request was in flight")
	default:
	}
	close(release)
	r := <-answered
	require.NoError(t, r.err)
	require.Equal(t, "done", r.body)
	require.NoError(t, <-served)
}

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
