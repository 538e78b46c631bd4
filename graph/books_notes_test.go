package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
)

// TestBookLifecycle creates, reads, updates and deletes a book, and checks
// what anonymous callers see before and after.
func TestBookLifecycle(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	read := func(t *testing.T, id string) *apitest.Book {
		t.Helper()
		return apitest.Data[*apitest.Book](t, c.Do(t, "", apitest.OpBook, apitest.Vars{"id": id}), "book")
	}
	update := func(t *testing.T, id string, in apitest.Vars) *apitest.Response {
		return c.Do(t, admin.Token, apitest.OpUpdateBook, apitest.Vars{"id": id, "in": in})
	}
	deleteBook := func(t *testing.T, id string) *apitest.Response {
		return c.Do(t, admin.Token, apitest.OpDeleteBook, apitest.Vars{"id": id})
	}

	b := apitest.Data[apitest.Book](t, c.Do(t, admin.Token, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{
		"title": "Dune", "author": "Frank Herbert", "isbn": "9780441013593", "publishedYear": 1965,
	}}), "createBook")
	require.NoError(t, uuid.Validate(b.ID), "book id %q is not a UUID", b.ID)
	require.Equal(t, "Dune", b.Title)
	require.Equal(t, "9780441013593", *b.Isbn)
	require.Equal(t, 1965, *b.PublishedYear)

	t.Run("anonymous reads the book", func(t *testing.T) {
		got := read(t, b.ID)
		require.NotNil(t, got)
		require.Equal(t, b.ID, got.ID)
		require.Equal(t, b.Title, got.Title)
		require.Equal(t, b.Author, got.Author)
		require.Equal(t, b.Isbn, got.Isbn)
		require.Equal(t, b.PublishedYear, got.PublishedYear)
		require.WithinDuration(t, b.CreatedAt, got.CreatedAt, time.Millisecond) // PostgreSQL keeps microseconds
	})

	t.Run("update changes only the given fields", func(t *testing.T) {
		got := apitest.Data[apitest.Book](t, update(t, b.ID, apitest.Vars{"title": "Dune Messiah"}), "updateBook")
		require.Equal(t, "Dune Messiah", got.Title)
		require.Equal(t, "Frank Herbert", got.Author)
		require.Equal(t, 1965, *got.PublishedYear)
		require.Equal(t, "Dune Messiah", read(t, b.ID).Title)
	})

	t.Run("update clears optional fields", func(t *testing.T) {
		got := apitest.Data[apitest.Book](t, update(t, b.ID, apitest.Vars{"clearIsbn": true, "clearPublishedYear": true}), "updateBook")
		require.Nil(t, got.Isbn)
		require.Nil(t, got.PublishedYear)
	})

	t.Run("missing book is null", func(t *testing.T) {
		require.Nil(t, read(t, uuid.NewString()))
	})

	t.Run("delete", func(t *testing.T) {
		require.True(t, apitest.Data[bool](t, deleteBook(t, b.ID), "deleteBook"))
		require.Nil(t, read(t, b.ID), "deleted book is still readable")
	})

	t.Run("update and delete of a missing book", func(t *testing.T) {
		for _, id := range []string{b.ID, uuid.NewString()} {
			apitest.RequireCode(t, update(t, id, apitest.Vars{"title": "Ghost"}), "NOT_FOUND")
			apitest.RequireCode(t, deleteBook(t, id), "NOT_FOUND")
		}
	})
}

// TestBookValidation sends invalid book inputs and expects BAD_USER_INPUT
// naming the GraphQL field, with nothing stored.
func TestBookValidation(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	existing := c.DB.Book.GetX(ctx, c.StoreBook(t, "Original").ID) // as stored, for comparisons

	for _, tc := range []struct {
		name  string
		key   string
		value any
	}{
		{"empty title", "title", ""},
		{"empty author", "author", ""},
		{"long title", "title", strings.Repeat("t", 501)},
		{"year 10000", "publishedYear", 10000},
		{"negative year", "publishedYear", -1},
		{"isbn of 21 chars", "isbn", strings.Repeat("1", 21)},
		{"NUL in title", "title", "bad\u0000title"},
		{"NUL in author", "author", "\u0000"},
		{"NUL in isbn", "isbn", "978\u0000"},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) {
			in := apitest.Vars{"title": "T", "author": "A"}
			in[tc.key] = tc.value
			before := c.DB.Book.Query().CountX(ctx)
			apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpCreateBook, apitest.Vars{"in": in}), "BAD_USER_INPUT", tc.key)
			require.Equal(t, before, c.DB.Book.Query().CountX(ctx), "an invalid book was stored")
		})
		t.Run("update/"+tc.name, func(t *testing.T) {
			r := c.Do(t, admin.Token, apitest.OpUpdateBook, apitest.Vars{"id": existing.ID, "in": apitest.Vars{tc.key: tc.value}})
			apitest.RequireCode(t, r, "BAD_USER_INPUT", tc.key)
			got := c.DB.Book.GetX(ctx, existing.ID)
			require.Equal(t, existing.Title, got.Title)
			require.Equal(t, existing.Author, got.Author)
			require.Equal(t, existing.UpdatedAt, got.UpdatedAt, "invalid update changed the book")
		})
	}
}

// TestInvalidIDs sends ids that are not UUIDs to every field taking one,
// inline and as variables: BAD_USER_INPUT on field "id", never a 5xx.
func TestInvalidIDs(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	for _, op := range []struct{ field, args, sel string }{
		{"book", "", "{ id }"},
		{"note", "", "{ id }"},
		{"user", "", "{ id }"},
		{"updateBook", `, input: {title: "x"}`, "{ id }"},
		{"deleteBook", "", ""},
		{"updateNote", `, input: {title: "x"}`, "{ id }"},
		{"deleteNote", "", ""},
		{"updateUser", `, input: {firstName: "x"}`, "{ id }"},
		{"deleteUser", "", ""},
	} {
		kind := "query"
		if strings.HasPrefix(op.field, "update") || strings.HasPrefix(op.field, "delete") {
			kind = "mutation"
		}
		for _, id := range []string{"abc", "", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --"} {
			t.Run(fmt.Sprintf("%s/%q/inline", op.field, id), func(t *testing.T) {
				idJSON, _ := json.Marshal(id)
				q := fmt.Sprintf(`%s { %s(id: %s%s) %s }`, kind, op.field, idJSON, op.args, op.sel)
				apitest.RequireCode(t, c.Do(t, admin.Token, q, nil), "BAD_USER_INPUT", "id")
			})
			t.Run(fmt.Sprintf("%s/%q/variable", op.field, id), func(t *testing.T) {
				q := fmt.Sprintf(`%s($id: ID!) { %s(id: $id%s) %s }`, kind, op.field, op.args, op.sel)
				apitest.RequireCode(t, c.Do(t, admin.Token, q, apitest.Vars{"id": id}), "BAD_USER_INPUT", "id")
			})
		}
	}
}

// TestNotesArePrivate checks that another user's notes, even an ADMIN's
// view of them, are indistinguishable from missing ones.
func TestNotesArePrivate(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	alice := c.NewUser(t, apitest.Free)
	bob := c.NewUser(t, apitest.Free)
	admin := c.NewUser(t, apitest.Admin)

	create := func(t *testing.T, token, title string) string {
		t.Helper()
		return apitest.Data[apitest.Note](t, c.Do(t, token, apitest.OpCreateNote,
			apitest.Vars{"in": apitest.Vars{"title": title, "content": title + " content"}}), "createNote").ID
	}
	aliceNote := create(t, alice.Token, "alice secret")
	bobNote := create(t, bob.Token, "bob note")
	before := c.DB.Note.GetX(ctx, uuid.MustParse(aliceNote))

	t.Run("notes lists only the caller's", func(t *testing.T) {
		for _, tc := range []struct {
			token string
			want  []string
		}{{alice.Token, []string{aliceNote}}, {bob.Token, []string{bobNote}}, {admin.Token, []string{}}} {
			notes := apitest.Data[apitest.Connection[apitest.Note]](t, c.Do(t, tc.token, apitest.OpNotes, apitest.Vars{"first": 100}), "notes")
			got := []string{}
			for _, n := range notes.Nodes() {
				got = append(got, n.ID)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, len(tc.want), notes.TotalCount)
		}
	})

	t.Run("owner reads their note", func(t *testing.T) {
		n := apitest.Data[apitest.Note](t, c.Do(t, alice.Token, apitest.OpNote, apitest.Vars{"id": aliceNote}), "note")
		require.Equal(t, "alice secret", n.Title)
		require.Equal(t, alice.ID, n.Owner.ID)
	})

	for _, op := range []struct {
		name, query string
		in          apitest.Vars
	}{
		{"note", apitest.OpNote, nil},
		{"updateNote", apitest.OpUpdateNote, apitest.Vars{"title": "pwned", "content": "pwned"}},
		{"deleteNote", apitest.OpDeleteNote, nil},
	} {
		for _, k := range []struct {
			name  string
			token string
		}{{"other user", bob.Token}, {"admin", admin.Token}} {
			t.Run(op.name+"/"+k.name, func(t *testing.T) {
				vars := func(id string) apitest.Vars {
					v := apitest.Vars{"id": id}
					if op.in != nil {
						v["in"] = op.in
					}
					return v
				}
				missing := c.Do(t, k.token, op.query, vars(uuid.NewString()))
				foreign := c.Do(t, k.token, op.query, vars(aliceNote))
				apitest.RequireCode(t, missing, "NOT_FOUND")
				apitest.RequireCode(t, foreign, "NOT_FOUND")
				require.Equal(t, missing.Status, foreign.Status)
				require.JSONEq(t, string(missing.Body), string(foreign.Body),
					"someone else's note must answer exactly like a missing one")

				after := c.DB.Note.GetX(ctx, uuid.MustParse(aliceNote))
				require.Equal(t, before.Title, after.Title)
				require.Equal(t, before.Content, after.Content)
				require.Equal(t, before.UpdatedAt, after.UpdatedAt, "alice's note was touched")
			})
		}
	}
}

// TestNotesQueryCount checks that listing notes with their owners runs a
// fixed number of SQL statements, whatever the page size (no N+1).
func TestNotesQueryCount(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.NewUser(t, apitest.Free)

	count := func(t *testing.T, want int) int64 {
		t.Helper()
		before := c.SQLCount()
		notes := apitest.Data[apitest.Connection[apitest.Note]](t, c.Do(t, u.Token, apitest.OpNotes, apitest.Vars{"first": 30}), "notes")
		delta := c.SQLCount() - before
		require.Equal(t, want, notes.TotalCount)
		require.Len(t, notes.Edges, want)
		for _, n := range notes.Nodes() {
			require.Equal(t, u.ID, n.Owner.ID)
			require.Equal(t, u.Email, n.Owner.Email)
		}
		return delta
	}

	for range 5 {
		c.StoreNote(t, u.ID)
	}
	five := count(t, 5)
	for range 25 {
		c.StoreNote(t, u.ID)
	}
	thirty := count(t, 30)
	t.Logf("SQL statements: %d for 5 notes, %d for 30 notes", five, thirty)
	require.Equal(t, five, thirty, "SQL statements grow with the page: N+1")
	require.LessOrEqual(t, thirty, int64(6), "too many SQL statements for one page")
}

// TestBookPagination walks the books connection both ways and tries every
// bad page argument.
func TestBookPagination(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	reader := c.NewUser(t, apitest.Free)
	var all []string
	for i := range 25 {
		all = append(all, c.StoreBook(t, fmt.Sprintf("book %02d", i)).ID.String())
	}
	type page = apitest.Connection[apitest.Book]
	ids := func(p page) []string {
		out := []string{}
		for _, b := range p.Nodes() {
			out = append(out, b.ID)
		}
		return out
	}
	books := func(t *testing.T, vars apitest.Vars) page {
		t.Helper()
		p := apitest.Data[page](t, c.Do(t, reader.Token, apitest.OpBooks, vars), "books")
		require.Equal(t, 25, p.TotalCount, "totalCount")
		return p
	}

	t.Run("default page of 10", func(t *testing.T) {
		p := books(t, nil)
		require.Equal(t, all[:10], ids(p))
		require.True(t, p.PageInfo.HasNextPage)
	})

	t.Run("first 100", func(t *testing.T) {
		p := books(t, apitest.Vars{"first": 100})
		require.Equal(t, all, ids(p))
		require.False(t, p.PageInfo.HasNextPage)
	})

	t.Run("first 0", func(t *testing.T) {
		require.Empty(t, books(t, apitest.Vars{"first": 0}).Edges)
	})

	t.Run("forward by 7", func(t *testing.T) {
		var seen []string
		var after any
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, pages, 4, "more pages than 25/7 needs")
			p := books(t, apitest.Vars{"first": 7, "after": after})
			require.LessOrEqual(t, len(p.Edges), 7)
			require.NotEmpty(t, p.Edges, "empty page before the end")
			require.Equal(t, p.Edges[len(p.Edges)-1].Cursor, *p.PageInfo.EndCursor)
			seen = append(seen, ids(p)...)
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		require.Equal(t, all, seen, "forward walk must visit every book once, in creation order")
	})

	t.Run("backward by 7", func(t *testing.T) {
		var seen []string
		var before any
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, pages, 4, "more pages than 25/7 needs")
			p := books(t, apitest.Vars{"last": 7, "before": before})
			require.LessOrEqual(t, len(p.Edges), 7)
			require.NotEmpty(t, p.Edges, "empty page before the start")
			require.Equal(t, p.Edges[0].Cursor, *p.PageInfo.StartCursor)
			seen = append(ids(p), seen...)
			if !p.PageInfo.HasPreviousPage {
				break
			}
			before = *p.PageInfo.StartCursor
		}
		require.Equal(t, all, seen, "backward walk must visit every book once, in creation order")
	})

	// Both cursors at once bound the page on both sides (Relay's
	// "apply cursors to edges"); refusing the combination would also do,
	// silently ignoring one cursor would not.
	window := books(t, apitest.Vars{"first": 25})
	for _, tc := range []struct {
		name string
		vars apitest.Vars
		want []string
	}{
		{"first with after and before", apitest.Vars{"first": 100, "after": window.Edges[4].Cursor, "before": window.Edges[9].Cursor}, all[5:9]},
		{"last with after and before", apitest.Vars{"last": 100, "after": window.Edges[4].Cursor, "before": window.Edges[9].Cursor}, all[5:9]},
		{"last with after", apitest.Vars{"last": 100, "after": window.Edges[19].Cursor}, all[20:]},
		{"first with before", apitest.Vars{"first": 100, "before": window.Edges[5].Cursor}, all[:5]},
	} {
		t.Run("mixed cursor directions/"+tc.name, func(t *testing.T) {
			r := c.Do(t, reader.Token, apitest.OpBooks, tc.vars)
			if len(r.Errors) > 0 {
				apitest.RequireCode(t, r, "BAD_USER_INPUT")
				return
			}
			require.Equal(t, tc.want, ids(apitest.Data[page](t, r, "books")), "books(%v) returned books outside the cursors", tc.vars)
		})
	}

	// forged is a well-formed cursor whose value is not one the server
	// issues: a map where the sort value would be.
	var buf bytes.Buffer
	ent.Cursor{ID: uuid.New(), Value: map[string]any{"x": []any{1, "y"}}}.MarshalGQL(&buf)
	forged := strings.Trim(buf.String(), `"`)

	for _, tc := range []struct {
		name  string
		vars  apitest.Vars
		field string
	}{
		{"first 101", apitest.Vars{"first": 101}, "first"},
		{"last 101", apitest.Vars{"last": 101}, "last"},
		{"first -1", apitest.Vars{"first": -1}, "first"},
		{"last -1", apitest.Vars{"last": -1}, "last"},
		{"garbage after", apitest.Vars{"after": "garbage!"}, "after"},
		{"garbage before", apitest.Vars{"last": 5, "before": "%%%"}, "before"},
		{"base64 non-cursor after", apitest.Vars{"after": "Zm9vYmFy"}, "after"},
		{"huge cursor", apitest.Vars{"after": strings.Repeat("A", 100_000)}, "after"},
		{"forged cursor with a sort value", apitest.Vars{"first": 5, "after": forged}, "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RequireCode(t, c.Do(t, reader.Token, apitest.OpBooks, tc.vars), "BAD_USER_INPUT", tc.field)
		})
	}

	// Ints beyond 32 bits are not GraphQL Ints; any contract code but an
	// internal error will do, and never a 5xx (the harness checks that).
	for _, n := range []string{"2147483648", "-2147483649", "9223372036854775808", "1e100", "99999999999999999999999999"} {
		t.Run("first "+n+"/inline", func(t *testing.T) {
			r := c.Do(t, reader.Token, `{ books(first: `+n+`) { totalCount } }`, nil)
			require.NotEmpty(t, r.Errors, "first: %s accepted: %s", n, r.Body)
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "first: %s: %s", n, r.Body)
		})
		t.Run("first "+n+"/variable", func(t *testing.T) {
			body := []byte(`{"query":"query($f: Int) { books(first: $f) { totalCount } }","variables":{"f":` + n + `}}`)
			r := c.Raw(t, "POST", "/graphql", apitest.Header("Authorization", "Bearer "+reader.Token), body)
			require.NotEmpty(t, r.Errors, "first: %s accepted: %s", n, r.Body)
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "first: %s: %s", n, r.Body)
		})
	}
}

// TestBookReadsSelectedColumns checks that book(id:) reads the columns its
// selection asks for and no others, and that node(id:) still answers every
// field a fragment on Book asks for.
func TestBookReadsSelectedColumns(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	b := c.StoreBook(t, "Selected")

	got := apitest.Data[apitest.Book](t, c.Do(t, "", `query($id: ID!) { book(id: $id) { title } }`, apitest.Vars{"id": b.ID}), "book")
	require.Equal(t, "Selected", got.Title)
	var reads []string
	for _, s := range c.Statements() {
		if strings.HasPrefix(s, "SELECT") && strings.Contains(s, "books") && !strings.Contains(s, "COUNT") {
			reads = append(reads, s)
		}
	}
	require.NotEmpty(t, reads)
	for _, s := range reads {
		require.NotContains(t, s, "created_at", "book(id:) { title } read a column it does not answer")
	}

	node := apitest.Data[apitest.Book](t, c.Do(t, "", `query($id: ID!) { node(id: $id) { id ... on Book { title author } ... on Note { content } } }`, apitest.Vars{"id": b.ID}), "node")
	require.Equal(t, "Selected", node.Title)
	require.Equal(t, "Author", node.Author)
}

// TestReadPathStatements: the read path's statements stay what the speed
// work left them: one to authenticate (the user, their session and its
// second factor and email state in one statement), one per page of books
// (and one for its totalCount), one per book; a statement added to authentication fails here, not only
// in a benchmark's numbers.
func TestReadPathStatements(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	book := c.StoreBook(t, "Statements")
	for _, tc := range []struct {
		name, token, op string
		vars            apitest.Vars
		want            int64
	}{
		{"books, signed in", u.Token, `{ books(first: 10) { edges { node { id title author } } } }`, nil, 2},
		{"books with totalCount", u.Token, apitest.OpBooks, apitest.Vars{"first": 10}, 3},
		{"book, anonymous", "", apitest.OpBook, apitest.Vars{"id": book.ID}, 1},
		{"me", u.Token, apitest.OpMe, nil, 1},
	} {
		before := c.SQLCount()
		r := c.Do(t, tc.token, tc.op, tc.vars)
		require.Empty(t, r.Errors, tc.name)
		require.Equal(t, tc.want, c.SQLCount()-before, "statements of %s", tc.name)
	}
}
