package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// timeout is the call timeout of the databases of these tests.
const timeout = time.Second

// openWithCallTimeout opens a fresh database whose calls time out after d.
func openWithCallTimeout(t *testing.T, d time.Duration) *ent.Client {
	t.Helper()
	db, err := database.Open(context.Background(), apitest.FreshDatabase(t), database.Options{CallTimeout: d})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db.Client
}

// TestTransactionDeadline keeps a transaction open past the call timeout:
// database/sql rolls it back, and what the transaction does next reports
// the deadline (an outage), not a bare "transaction has already been
// committed or rolled back" (a bug).
func TestTransactionDeadline(t *testing.T) {
	t.Parallel()
	client := openWithCallTimeout(t, timeout)
	ctx := context.Background()
	tx, err := client.Tx(ctx)
	require.NoError(t, err)
	_, err = tx.User.Query().Count(ctx)
	require.NoError(t, err)

	time.Sleep(2 * timeout) // past the transaction's deadline, on the real clock database/sql uses

	_, err = tx.User.Query().Count(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, database.IsUnavailable(err), "not an outage: %v", err)
	require.ErrorIs(t, tx.Commit(), context.DeadlineExceeded)
}

// TestAbandonedTransaction leaves a transaction open, as a caller that
// panicked would: past its deadline it no longer holds the database (on
// SQLite, the process's turn to write), and the next one begins.
func TestAbandonedTransaction(t *testing.T) {
	t.Parallel()
	client := openWithCallTimeout(t, timeout)
	ctx := context.Background()
	_, err := client.Tx(ctx) // never ended
	require.NoError(t, err)

	time.Sleep(2 * timeout) // past the abandoned transaction's deadline

	tx, err := client.Tx(ctx)
	require.NoError(t, err, "the abandoned transaction still holds the database")
	require.NoError(t, tx.Book.Create().SetTitle("t").SetAuthor("a").Exec(ctx))
	require.NoError(t, tx.Commit())
}
