package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// TestNodeFollowsTheTypedFields refetches every kind of object through
// node(id) as every kind of caller, and requires the answer of the field
// that serves its type: a book for anyone, a note for its owner only
// (anyone else's NOT_FOUND, exactly like a missing id), a user for
// themself or an ADMIN (others FORBIDDEN), an audit event for an ADMIN.
func TestNodeFollowsTheTypedFields(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	alice := c.NewUser(t, apitest.Free)
	bob := c.NewUser(t, apitest.Free)
	admin := c.NewUser(t, apitest.Admin)
	nobody := c.NewUser(t, 0) // signed in, no permission bit
	book := c.StoreBook(t, "Public").ID.String()
	aliceNote := c.StoreNote(t, alice.ID).ID.String()
	event := c.DB.AuditEvent.Query().FirstX(context.Background()).ID.String()
	missing := uuid.NewString()

	callers := map[string]string{"alice": alice.Token, "bob": bob.Token, "admin": admin.Token, "nobody": nobody.Token, "anonymous": ""}
	for _, tc := range []struct {
		caller, id string
		want       string // the __typename, or the error code
	}{
		{"anonymous", book, "Book"},
		{"nobody", book, "Book"},
		{"bob", book, "Book"},
		{"alice", aliceNote, "Note"},
		{"bob", aliceNote, "NOT_FOUND"},
		{"admin", aliceNote, "NOT_FOUND"},
		{"nobody", aliceNote, "FORBIDDEN"},
		{"anonymous", aliceNote, "UNAUTHENTICATED"},
		{"alice", alice.ID, "User"},
		{"nobody", nobody.ID, "User"},
		{"bob", alice.ID, "FORBIDDEN"},
		{"admin", alice.ID, "User"},
		{"anonymous", alice.ID, "UNAUTHENTICATED"},
		{"admin", event, "AuditEvent"},
		{"alice", event, "FORBIDDEN"},
		{"anonymous", event, "UNAUTHENTICATED"},
		{"alice", missing, "NOT_FOUND"},
		{"admin", missing, "NOT_FOUND"},
		{"anonymous", missing, "UNAUTHENTICATED"},
	} {
		t.Run(tc.caller+"/"+tc.want, func(t *testing.T) {
			r := c.Do(t, callers[tc.caller], apitest.OpNode, apitest.Vars{"id": tc.id})
			if !apitest.Codes[tc.want] { // a type name
				n := apitest.Data[*apitest.Node](t, r, "node")
				require.NotNil(t, n, "%s", r.Body)
				require.Equal(t, tc.want, n.Typename)
				require.Equal(t, tc.id, n.ID)
				return
			}
			apitest.RequireCode(t, r, tc.want)
			require.Equal(t, []any{"node"}, r.Errors[0].Path)
		})
	}

	t.Run("another user's note answers exactly like a missing id", func(t *testing.T) {
		foreign := c.Do(t, bob.Token, apitest.OpNode, apitest.Vars{"id": aliceNote})
		absent := c.Do(t, bob.Token, apitest.OpNode, apitest.Vars{"id": missing})
		require.JSONEq(t, string(absent.Body), string(foreign.Body))
		require.NotContains(t, string(foreign.Body), "alice")
	})

	t.Run("the owner reads the note's fields", func(t *testing.T) {
		n := apitest.Data[apitest.Node](t, c.Do(t, alice.Token, apitest.OpNode, apitest.Vars{"id": aliceNote}), "node")
		require.NotEmpty(t, n.Title)
		require.Equal(t, alice.ID, n.Owner.ID)
	})
}

// TestNodesAnswersEachIDAlone requires nodes(ids) to answer each id as
// node(id) does, in order, a refused one as null with its error at its
// index, and to bound the number of ids.
func TestNodesAnswersEachIDAlone(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	alice := c.NewUser(t, apitest.Free)
	bob := c.NewUser(t, apitest.Free)
	book := c.StoreBook(t, "Public").ID.String()
	aliceNote := c.StoreNote(t, alice.ID).ID.String()
	bobNote := c.StoreNote(t, bob.ID).ID.String()
	missing := uuid.NewString()

	ids := []string{book, bobNote, aliceNote, alice.ID, missing, bob.ID, book}
	r := c.Do(t, bob.Token, apitest.OpNodes, apitest.Vars{"ids": ids})
	var data struct{ Nodes []*apitest.Node }
	require.NoError(t, json.Unmarshal(r.Data, &data), "%s", r.Body)
	require.Len(t, data.Nodes, len(ids))
	for i, want := range []string{"Book", "Note", "", "", "", "User", "Book"} {
		if want == "" {
			require.Nil(t, data.Nodes[i], "nodes[%d] (%s) answered for bob: %s", i, ids[i], r.Body)
			continue
		}
		require.Equal(t, want, data.Nodes[i].Typename, "nodes[%d]", i)
		require.Equal(t, ids[i], data.Nodes[i].ID, "nodes[%d]", i)
	}
	errs := map[float64]string{}
	for _, e := range r.Errors {
		require.Len(t, e.Path, 2, "%s", r.Body)
		errs[e.Path[1].(float64)] = e.Code()
	}
	require.Equal(t, map[float64]string{2: "NOT_FOUND", 3: "FORBIDDEN", 4: "NOT_FOUND"}, errs, "%s", r.Body)

	t.Run("anonymous", func(t *testing.T) {
		r := c.Do(t, "", apitest.OpNodes, apitest.Vars{"ids": []string{book, aliceNote}})
		require.Len(t, r.Errors, 1, "%s", r.Body)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
		require.Contains(t, string(r.Data), `"__typename":"Book"`)
	})

	t.Run("at most 100 ids", func(t *testing.T) {
		many := make([]string, 101)
		for i := range many {
			many[i] = book
		}
		apitest.RequireCode(t, c.Do(t, bob.Token, apitest.OpNodes, apitest.Vars{"ids": many}), "BAD_USER_INPUT", "ids")
		r := c.Do(t, bob.Token, apitest.OpNodes, apitest.Vars{"ids": many[:100]})
		require.Empty(t, r.Errors, "%s", r.Body)
	})

	t.Run("no ids", func(t *testing.T) {
		r := c.Do(t, bob.Token, apitest.OpNodes, apitest.Vars{"ids": []string{}})
		require.JSONEq(t, `{"nodes": []}`, string(r.Data))
	})
}

// TestNodesReadsEachTableOnce asks nodes for 100 ids of every kind (books,
// notes, users, audit events, and ids that name nothing), most of them
// more than once, as an ADMIN and as a FREE user: the server runs one
// statement per table at most, whatever the number of ids, besides the
// one that authenticates the caller, and answers each id as node does.
func TestNodesReadsEachTableOnce(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	free := c.NewUser(t, apitest.Free)
	var kinds [5][]string // books, the admin's notes, users, audit events, missing
	for range 5 {
		kinds[0] = append(kinds[0], c.StoreBook(t, "Book").ID.String())
		kinds[1] = append(kinds[1], c.StoreNote(t, admin.ID).ID.String())
		kinds[2] = append(kinds[2], c.StoreUser(t, apitest.Free).ID.String())
		kinds[4] = append(kinds[4], uuid.NewString())
	}
	events, err := c.DB.AuditEvent.Query().Limit(5).IDs(context.Background())
	require.NoError(t, err)
	for _, id := range events {
		kinds[3] = append(kinds[3], id.String())
	}
	var ids []string
	for i := 0; len(ids) < 100; i++ {
		ids = append(ids, kinds[i%5][i/5%len(kinds[i%5])])
	}

	for _, tc := range []struct {
		name, token string
		want        [5]string // the __typename, or the error code, of each kind
	}{
		{"admin", admin.Token, [5]string{"Book", "Note", "User", "AuditEvent", "NOT_FOUND"}},
		{"free", free.Token, [5]string{"Book", "NOT_FOUND", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.SQLCount()
			r := c.Do(t, tc.token, apitest.OpNodes, apitest.Vars{"ids": ids})
			require.LessOrEqual(t, c.SQLCount()-before, int64(1+4), "statements for 100 ids")
			var data struct{ Nodes []*apitest.Node }
			require.NoError(t, json.Unmarshal(r.Data, &data), "%s", r.Body)
			codes := map[float64]string{}
			for _, e := range r.Errors {
				codes[e.Path[1].(float64)] = e.Code()
			}
			for i, id := range ids {
				want := tc.want[i%5]
				if n := data.Nodes[i]; n != nil {
					require.Equal(t, want, n.Typename, "nodes[%d]", i)
					require.Equal(t, id, n.ID)
				} else {
					require.Equal(t, want, codes[float64(i)], "nodes[%d]", i)
				}
			}
		})
	}
}

// TestNodesCostPerLookupAndID requires node and nodes to cost their
// lookups under the complexity limit, however small their selection: a
// lookup in every table per field, and every id, so that a request cannot
// hold hundreds of lookups, or thousands of ids, for the price of their
// selections.
func TestNodesCostPerLookupAndID(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	list, _ := json.Marshal(ids)
	aliases := func(n int, field string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " a%d: %s", i, field)
		}
		return "{" + b.String() + " }"
	}
	nodes := "nodes(ids: " + string(list) + ") { id }"
	require.Equal(t, "NOT_FOUND", c.Do(t, u.Token, aliases(20, nodes), nil).Code(), "20 lookups of 100 ids")
	apitest.RequireCode(t, c.Do(t, u.Token, aliases(25, nodes), nil), "COMPLEXITY_LIMIT_EXCEEDED")
	node := `node(id: "` + ids[0] + `") { id }`
	require.Equal(t, "NOT_FOUND", c.Do(t, u.Token, aliases(150, node), nil).Code(), "150 lookups of an id")
	apitest.RequireCode(t, c.Do(t, u.Token, aliases(200, node), nil), "COMPLEXITY_LIMIT_EXCEEDED")
}
