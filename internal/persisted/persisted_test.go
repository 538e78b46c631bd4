package persisted_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/persisted"
)

const doc = `query Me { me { id } }`

// write writes content to a file of the test and returns its path.
func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestLoadAndLookup(t *testing.T) {
	h := persisted.Hash(doc)
	d, err := persisted.Load(
		write(t, `{"sha256:`+h+`": "`+doc+`", "0123456789abcdef0123456789abcdef01234567": "query Sha1 { __typename }"}`),
		write(t, `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "`+h+`", "name": "Me", "type": "query", "body": "`+doc+`"}]}`),
	)
	require.NoError(t, err)
	require.Equal(t, 2, d.Len())
	for _, id := range []string{h, "sha256:" + h, strings.ToUpper(h), "sha256:" + strings.ToUpper(h)} {
		got, ok := d.Lookup(id)
		require.True(t, ok, "Lookup(%q)", id)
		require.Equal(t, doc, got, "Lookup(%q)", id)
	}
	got, ok := d.Lookup("0123456789abcdef0123456789abcdef01234567")
	require.True(t, ok, "an id that is not a SHA-256 is kept as it is")
	require.Equal(t, "query Sha1 { __typename }", got)
	for _, id := range []string{"", "sha256:", persisted.Hash("{ other }"), "Me"} {
		_, ok := d.Lookup(id)
		require.False(t, ok, "Lookup(%q)", id)
	}
	require.True(t, d.Contains(doc))
	require.False(t, d.Contains(doc+" "), "Contains compares to the byte")

	var none *persisted.Documents
	_, ok = none.Lookup(h)
	require.False(t, ok)
	require.False(t, none.Contains(doc))
}

func TestLoadRefuses(t *testing.T) {
	h := persisted.Hash(doc)
	for _, tc := range []struct{ name, content, want string }{
		{"not JSON", `nope`, "neither"},
		{"a list", `["` + doc + `"]`, "neither"},
		{"hash of another document", `{"` + persisted.Hash("{ other }") + `": "` + doc + `"}`, "not the SHA-256"},
		{"prefixed hash of another document", `{"sha256:` + persisted.Hash("{ other }") + `": "` + doc + `"}`, "not the SHA-256"},
		{"empty document", `{"my-id": " "}`, "empty"},
		{"Apollo manifest of another version", `{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`, "unknown manifest"},
		{"Apollo manifest with a wrong id", `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "` + persisted.Hash("x") + `", "body": "` + doc + `"}]}`, "not the SHA-256"},
		{"one id, two documents", `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "a", "body": "{ a }"}, {"id": "a", "body": "{ b }"}]}`, "two different"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.content)
			_, err := persisted.Load(path)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, path, "the error names the file")
		})
	}
	t.Run("the same id in two files", func(t *testing.T) {
		_, err := persisted.Load(write(t, `{"a": "{ a }"}`), write(t, `{"a": "{ b }"}`))
		require.ErrorContains(t, err, "two different")
		_, err = persisted.Load(write(t, `{"`+h+`": "`+doc+`"}`), write(t, `{"sha256:`+h+`": "`+doc+`"}`))
		require.NoError(t, err, "one document in two files")
	})
	t.Run("a missing file", func(t *testing.T) {
		_, err := persisted.Load(filepath.Join(t.TempDir(), "none.json"))
		require.ErrorContains(t, err, "none.json")
	})
}
