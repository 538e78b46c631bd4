package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// BenchmarkWorstRequests measures the most expensive requests of a few
// shapes that the default limits let through, a FREE user's: one root
// field repeated under as many aliases as the complexity and field limits
// allow (reported as aliases), in-process from 64 goroutines like
// BenchmarkInProcess, so that cpu-µs/op is the server's. The goal is that
// the worst nodes or node request costs at most 4 times the CPU of the
// worst books(first: 100) request:
//
//	go test ./graph/ -run '^$' -bench WorstRequests -benchtime 200x
func BenchmarkWorstRequests(b *testing.B) {
	s, p := benchServer(b)
	books := seedBooks(b, s, benchCatalogSize)
	quoted := func(ids []uuid.UUID) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = `"` + id.String() + `"`
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	missing := make([]uuid.UUID, 100)
	for i := range missing {
		missing[i] = uuid.New()
	}
	for _, bc := range []struct{ name, field string }{
		{"books/edges-cursor", `books(first: 100) { edges { cursor } }`},
		{"books/edges-node-id", `books(first: 100) { edges { node { id } } }`},
		{"books/pageInfo", `books(first: 100) { pageInfo { endCursor } }`},
		{"books/totalCount", `books(first: 100) { totalCount }`},
		{"nodes/100-books", `nodes(ids: ` + quoted(books[:100]) + `) { id }`},
		{"nodes/100-missing", `nodes(ids: ` + quoted(missing) + `) { id }`},
		{"nodes/1-missing", `nodes(ids: ` + quoted(missing[:1]) + `) { id }`},
		{"node/missing", `node(id: "` + missing[0].String() + `") { id }`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			query := func(n int) []byte {
				var q strings.Builder
				q.WriteString("{")
				for i := range n {
					fmt.Fprintf(&q, " a%d: %s", i, bc.field)
				}
				q.WriteString(" }")
				body, err := json.Marshal(map[string]any{"query": q.String()})
				require.NoError(b, err)
				return body
			}
			// The most aliases the limits let through.
			n := sort.Search(2500, func(n int) bool { return runWorst(s.Handler, p.Token, query(n+1)) != nil })
			require.Positive(b, n, "not even one alias is allowed")
			body := query(n)
			benchParallel(b, s, func(int64) error { return runWorst(s.Handler, p.Token, body) })
			b.ReportMetric(float64(n), "aliases")
		})
	}
}

// runWorst posts body to h in-process and returns an error if the request
// is refused as a whole (a limit, say); errors on single ids are fine.
func runWorst(h http.Handler, token string, body []byte) error {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"a0":`)) {
		return fmt.Errorf("status %d: %.300s", w.Code, w.Body)
	}
	return nil
}
