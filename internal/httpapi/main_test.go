package httpapi_test

import (
	"testing"

	"bitgate/internal/apitest"
)

// TestMain runs every test on SQLite, then on PostgreSQL when
// TEST_DATABASE_URL is set.
func TestMain(m *testing.M) { apitest.Main(m) }
