package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/graph"
	"bitgate/internal/apitest"
)

// connectionField is one field a query may select of a connection: its
// place in the answer and how a query writes it.
type connectionField struct {
	path []string // edges.cursor is {"edges", "cursor"}
	sel  string   // its selection, without the enclosing edges or pageInfo
}

// connectionFields are the fields of a books connection a client may select.
var connectionFields = []connectionField{
	{[]string{"edges", "cursor"}, "cursor"},
	{[]string{"edges", "node"}, "node { id title }"},
	{[]string{"pageInfo", "hasNextPage"}, "hasNextPage"},
	{[]string{"pageInfo", "hasPreviousPage"}, "hasPreviousPage"},
	{[]string{"pageInfo", "startCursor"}, "startCursor"},
	{[]string{"pageInfo", "endCursor"}, "endCursor"},
	{[]string{"totalCount"}, "totalCount"},
}

// connectionSelection writes the fields of mask (bit i: connectionFields[i])
// as a query selection, plainly or, with disguised, under aliases and in
// fragments, as clients write them. It returns the selection, the
// fragment definitions it spreads, and the key each field's answer comes
// under, by its path.
func connectionSelection(mask int, disguised bool) (sel, fragments string, keys map[string]string) {
	keys = map[string]string{}
	var edges, info, rest []string
	for i, f := range connectionFields {
		if mask&(1<<i) == 0 {
			continue
		}
		key := f.path[len(f.path)-1]
		sel := f.sel
		if disguised {
			key = "a_" + key
			sel = key + ": " + sel
		}
		keys[strings.Join(f.path, ".")] = key
		switch f.path[0] {
		case "edges":
			edges = append(edges, sel)
		case "pageInfo":
			info = append(info, sel)
		default:
			rest = append(rest, sel)
		}
	}
	keys["edges"], keys["pageInfo"] = "edges", "pageInfo"
	var parts []string
	if disguised {
		keys["edges"], keys["pageInfo"] = "e", "p"
		if len(edges) > 0 {
			parts = append(parts, "... on BookConnection { e: edges { "+strings.Join(edges, " ")+" } }")
		}
		if len(info) > 0 {
			parts = append(parts, "p: pageInfo { ...info }")
			fragments = "fragment info on PageInfo { " + strings.Join(info, " ") + " }"
		}
		// A field a client skips is not selected.
		parts = append(parts, "skipped: edges @include(if: false) { cursor }")
	} else {
		if len(edges) > 0 {
			parts = append(parts, "edges { "+strings.Join(edges, " ")+" }")
		}
		if len(info) > 0 {
			parts = append(parts, "pageInfo { "+strings.Join(info, " ")+" }")
		}
	}
	parts = append(parts, rest...)
	return strings.Join(parts, " "), fragments, keys
}

// project returns of a full answer (every field selected, under its own
// name) what a query selecting mask answers, under the keys it asked for.
func project(t *testing.T, full map[string]any, mask int, keys map[string]string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for i, f := range connectionFields {
		if mask&(1<<i) == 0 {
			continue
		}
		key := keys[strings.Join(f.path, ".")]
		switch f.path[0] {
		case "edges":
			edges, _ := full["edges"].([]any)
			got, _ := out[keys["edges"]].([]any)
			if got == nil {
				got = make([]any, len(edges))
				for j := range edges {
					got[j] = map[string]any{}
				}
				out[keys["edges"]] = got
			}
			for j, e := range edges {
				got[j].(map[string]any)[key] = e.(map[string]any)[f.path[1]]
			}
		case "pageInfo":
			info, _ := out[keys["pageInfo"]].(map[string]any)
			if info == nil {
				info = map[string]any{}
				out[keys["pageInfo"]] = info
			}
			info[key] = full["pageInfo"].(map[string]any)[f.path[1]]
		default:
			out[key] = full[f.path[0]]
		}
	}
	return out
}

// TestConnectionSelections asks one page of books, forwards, backwards
// and with cursors on both sides, with every combination of the fields a
// connection offers, written plainly and disguised (aliases, fragments,
// @include), and requires every answer to agree with the answer to the
// query that selects them all.
func TestConnectionSelections(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Limits: graph.Limits{MaxComplexity: 1 << 20, MaxFields: 5000}})
	reader := c.NewUser(t, apitest.Free)
	for i := range 25 {
		c.StoreBook(t, fmt.Sprintf("book %02d", i))
	}
	all := apitest.Data[apitest.Connection[apitest.Book]](t, c.Do(t, reader.Token, apitest.OpBooks, apitest.Vars{"first": 25}), "books")
	cur := func(i int) string { return fmt.Sprintf("%q", all.Edges[i].Cursor) }
	pages := []string{
		"",
		"first: 7",
		"first: 7, after: " + cur(6),
		"first: 7, after: " + cur(20),
		"first: 4, after: " + cur(20),
		"first: 100",
		"first: 0",
		"last: 7",
		"last: 7, before: " + cur(18),
		"last: 7, before: " + cur(3),
		"last: 100, after: " + cur(19),
		"first: 3, before: " + cur(10),
		"first: 100, after: " + cur(4) + ", before: " + cur(9),
		"last: 2, after: " + cur(4) + ", before: " + cur(9),
	}
	args := func(p string) string {
		if p == "" {
			return ""
		}
		return "(" + p + ")"
	}

	// The full answers, one query per page.
	const full = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id title } }`
	var q strings.Builder
	for i, p := range pages {
		fmt.Fprintf(&q, "p%d: books%s { %s } ", i, args(p), full)
	}
	r := c.Do(t, reader.Token, "{ "+q.String()+"}", nil)
	require.Empty(t, r.Errors, "%s", r.Body)
	var fulls map[string]map[string]any
	require.NoError(t, json.Unmarshal(r.Data, &fulls))

	// The answers the issue reported wrong, right in the full answer.
	first100 := fulls["p5"]
	require.Equal(t, false, first100["pageInfo"].(map[string]any)["hasNextPage"], "first: 100 over 25 books")
	require.Equal(t, all.Edges[24].Cursor, first100["pageInfo"].(map[string]any)["endCursor"])
	require.EqualValues(t, 25, first100["totalCount"])
	require.EqualValues(t, 25, fulls["p12"]["totalCount"], "a cursor on both sides narrows the page, not the count")
	require.EqualValues(t, 25, fulls["p10"]["totalCount"], "a cursor on both sides narrows the page, not the count")

	for mask := 1; mask < 1<<len(connectionFields); mask++ {
		for _, disguised := range []bool{false, true} {
			sel, fragments, keys := connectionSelection(mask, disguised)
			var q strings.Builder
			for i, p := range pages {
				fmt.Fprintf(&q, "p%d: books%s { %s } ", i, args(p), sel)
			}
			query := "{ " + q.String() + "} " + fragments
			r := c.Do(t, reader.Token, query, nil)
			require.Empty(t, r.Errors, "%s: %s", query, r.Body)
			var got map[string]map[string]any
			require.NoError(t, json.Unmarshal(r.Data, &got))
			for i, p := range pages {
				key := fmt.Sprintf("p%d", i)
				answer := got[key]
				if disguised {
					require.Empty(t, answer["skipped"], "books(%s): a skipped field was answered", p)
					delete(answer, "skipped")
				}
				require.Equal(t, project(t, fulls[key], mask, keys), answer, "books(%s) { %s } disagrees with the full answer", p, sel)
			}
		}
	}
}
