package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestQueryCacheIsBoundedByBytes fills the parsed-query cache past its
// bound and requires it to keep the most recently used documents within
// it, and to refuse a document heavier than maxCachedQuery outright.
func TestQueryCacheIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	c := newQueryCache()
	parse := func(q string) *ast.QueryDocument {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		require.NoError(t, err)
		return doc
	}
	padding := strings.Repeat(" ", maxCachedQuery/6)
	text := func(i int) string { return fmt.Sprintf("query Q%03d { __typename }%s", i, padding) }
	fit := queryCacheBytes / querySize(text(0), parse(text(0)))
	for i := range 3 * fit {
		c.Add(ctx, text(i), parse(text(i)))
		_, ok := c.Get(ctx, text(0)) // used: never the least recently
		require.True(t, ok, "the most recently used document was dropped at %d", i)
		require.LessOrEqual(t, c.bytes, queryCacheBytes)
	}
	_, ok := c.Get(ctx, text(1))
	require.False(t, ok, "the least recently used document was kept")
	_, ok = c.Get(ctx, text(3*fit-1))
	require.True(t, ok, "the last document added was dropped")
	require.Len(t, c.entries, fit, "the cache holds fewer documents than its bound allows")

	heavy := "{ __typename }" + strings.Repeat(" ", maxCachedQuery)
	c.Add(ctx, heavy, parse(heavy))
	_, ok = c.Get(ctx, heavy)
	require.False(t, ok, "a document over maxCachedQuery was cached")
}
