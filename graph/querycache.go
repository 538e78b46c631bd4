package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The parsed-query cache's bounds, in estimated bytes (see querySize). The
// documents of a real client's operations weigh 2 to 20 KB each, so the
// cache holds hundreds to thousands of them; a document weighing more than
// maxCachedQuery (a text of 256 KB, or about a thousand fields, arguments
// and values: twice what MaxFields lets a query hold) is parsed and
// validated on each request instead, as any query not seen before is. The
// heap holds up to five times its live bytes (the server's GOGC of 400),
// so the bound is small.
const (
	queryCacheBytes = 8 << 20
	maxCachedQuery  = 256 << 10
)

// Bytes a parsed document holds beyond its text (measured with gqlparser
// v2.5: about 220 bytes per node, validated, with its position).
const (
	bytesPerNode  = 256
	bytesPerQuery = 1024
)

// queryCache is gqlgen's cache of parsed and validated queries, keyed by
// their text: a least recently used list bounded by the bytes its entries
// hold, text and syntax tree, rather than by their number. Bounded by
// number alone, a thousand distinct queries of 1 MB (or of 40 KB, each
// parsing to 20 000 list values) held gigabytes. It is safe for
// concurrent use.
type queryCache struct {
	mu      sync.Mutex
	bytes   int                      // the sizes of the entries, added up
	entries map[string]*list.Element // of *cachedQuery, by query text
	recency list.List                // front: the most recently used
}

var _ graphql.Cache[*ast.QueryDocument] = (*queryCache)(nil)

// cachedQuery is one entry of a queryCache.
type cachedQuery struct {
	text string
	doc  *ast.QueryDocument
	size int
}

// newQueryCache returns an empty queryCache.
func newQueryCache() *queryCache {
	return &queryCache{entries: map[string]*list.Element{}}
}

// Get returns the document of query, if cached, and marks it used.
func (c *queryCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[query]
	if !ok {
		return nil, false
	}
	c.recency.MoveToFront(e)
	return e.Value.(*cachedQuery).doc, true
}

// Add caches the document of query, unless it weighs more than
// maxCachedQuery, and drops the least recently used entries until the
// cache weighs at most queryCacheBytes.
func (c *queryCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	size := querySize(query, doc)
	if size > maxCachedQuery {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[query]; ok { // added by a concurrent request
		c.recency.MoveToFront(e)
		return
	}
	c.entries[query] = c.recency.PushFront(&cachedQuery{text: query, doc: doc, size: size})
	c.bytes += size
	for c.bytes > queryCacheBytes {
		oldest := c.recency.Remove(c.recency.Back()).(*cachedQuery)
		delete(c.entries, oldest.text)
		c.bytes -= oldest.size
	}
}

// querySize estimates the bytes the cache holds for query: its text, which
// the document's positions keep, and the document's nodes.
func querySize(query string, doc *ast.QueryDocument) int {
	return len(query) + bytesPerQuery + bytesPerNode*documentNodes(doc)
}

// documentNodes counts the nodes of a parsed document: operations,
// variable definitions, fragments, selections, arguments, directives and
// values (each element of a list or object value counting once).
func documentNodes(doc *ast.QueryDocument) int {
	n := 0
	var value func(v *ast.Value)
	value = func(v *ast.Value) {
		if v != nil {
			n++
			for _, c := range v.Children {
				value(c.Value)
			}
		}
	}
	arguments := func(args ast.ArgumentList) {
		for _, a := range args {
			n++
			value(a.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			n++
			arguments(d.Arguments)
		}
	}
	var selections func(set ast.SelectionSet)
	selections = func(set ast.SelectionSet) {
		for _, sel := range set {
			n++
			switch s := sel.(type) {
			case *ast.Field:
				arguments(s.Arguments)
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.InlineFragment:
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.FragmentSpread:
				directives(s.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		n++
		for _, v := range op.VariableDefinitions {
			n++
			value(v.DefaultValue)
			directives(v.Directives)
		}
		directives(op.Directives)
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n++
		directives(f.Directives)
		selections(f.SelectionSet)
	}
	return n
}
