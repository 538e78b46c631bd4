package graph_test

import (
	"os"
	"testing"

	"bitgate/internal/apitest"
)

// TestMain runs every test on SQLite, then on PostgreSQL when
// TEST_DATABASE_URL is set.
func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }
