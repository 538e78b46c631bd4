package apiclient_test

import (
	"os"
	"testing"

	"github.com/Khan/genqlient/generate"
	"github.com/stretchr/testify/require"
)

// TestGeneratedClientIsCurrent generates the client again from the schema
// files as they are now: an operation that no longer fits the schema
// fails here, under go test, and so does a generated.go that a schema
// change made stale.
func TestGeneratedClientIsCurrent(t *testing.T) {
	cfg, err := generate.ReadAndValidateConfig("genqlient.yaml")
	require.NoError(t, err)
	files, err := generate.Generate(cfg)
	require.NoError(t, err, "the client's operations no longer fit the schema")
	want, ok := files[cfg.Generated]
	require.True(t, ok, "genqlient wrote no %s", cfg.Generated)
	got, err := os.ReadFile(cfg.Generated)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "internal/apiclient/generated.go is stale: run go generate ./...")
}
