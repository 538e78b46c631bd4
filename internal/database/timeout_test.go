package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// TestTransactionDeadline keeps a transaction open past the call timeout:
// database/sql rolls it back, and what the transaction does next reports
// the deadline (an outage), not a bare "transaction has already been
// committed or rolled back" (a bug).
func TestTransactionDeadline(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	db, err := database.Open(context.Background(), apitest.FreshDatabase(t), database.Options{CallTimeout: timeout})
	require.NoError(t, err)
	defer db.Close()
	client := db.Client
	ctx := context.Background()
	tx, err := client.Tx(ctx)
	require.NoError(t, err)
	_, err = tx.User.Query().Count(ctx)
	require.NoError(t, err)

	past, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	<-past.Done() // the transaction's deadline has passed

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
	const timeout = time.Second
	db, err := database.Open(context.Background(), apitest.FreshDatabase(t), database.Options{CallTimeout: timeout})
	require.NoError(t, err)
	defer db.Close()
	client := db.Client
	ctx := context.Background()
	_, err = client.Tx(ctx) // never ended
	require.NoError(t, err)

	past, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	<-past.Done() // the abandoned transaction's deadline has passed

	tx, err := client.Tx(ctx)
	require.NoError(t, err, "the abandoned transaction still holds the database")
	require.NoError(t, tx.Book.Create().SetTitle("t").SetAuthor("a").Exec(ctx))
	require.NoError(t, tx.Commit())
}
