package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
)

// bookFields selects every field of a Book.
const bookFields = `id title author isbn publishedYear createdAt updatedAt`

// apiBook is a Book as the API returns it.
type apiBook struct {
	ID            string
	Title         string
	Author        string
	Isbn          *string
	PublishedYear *int
}

// TestBookLifecycle creates, reads, updates and deletes a book, and checks
// what anonymous callers see before and after.
func TestBookLifecycle(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	admin := s.User(t, "books-admin@example.com", bitAdmin)
	const (
		get = `query($id: ID!) { book(id: $id) { ` + bookFields + ` } }`
		upd = `mutation($id: ID!, $in: UpdateBookInput!) { updateBook(id: $id, input: $in) { ` + bookFields + ` } }`
		del = `mutation($id: ID!) { deleteBook(id: $id) }`
	)
	read := func(t *testing.T, id string) *apiBook {
		t.Helper()
		var out struct{ Book *apiBook }
		s.Query(t, "", get, map[string]any{"id": id}).Decode(t, &out)
		return out.Book
	}

	var created struct{ CreateBook apiBook }
	s.Query(t, admin.AccessToken, `mutation($in: CreateBookInput!) { createBook(input: $in) { `+bookFields+` } }`,
		map[string]any{"in": map[string]any{"title": "Dune", "author": "Frank Herbert", "isbn": "9780441013593", "publishedYear": 1965}}).
		Decode(t, &created)
	b := created.CreateBook
	require.NoError(t, uuid.Validate(b.ID), "book id %q is not a UUID", b.ID)
	require.Equal(t, "Dune", b.Title)
	require.Equal(t, "9780441013593", *b.Isbn)
	require.Equal(t, 1965, *b.PublishedYear)

	t.Run("anonymous reads the book", func(t *testing.T) {
		got := read(t, b.ID)
		require.NotNil(t, got)
		require.Equal(t, b, *got)
	})

	t.Run("update changes only the given fields", func(t *testing.T) {
		var out struct{ UpdateBook apiBook }
		s.Query(t, admin.AccessToken, upd, map[string]any{"id": b.ID, "in": map[string]any{"title": "Dune Messiah"}}).Decode(t, &out)
		require.Equal(t, "Dune Messiah", out.UpdateBook.Title)
		require.Equal(t, "Frank Herbert", out.UpdateBook.Author)
		require.Equal(t, 1965, *out.UpdateBook.PublishedYear)
		require.Equal(t, "Dune Messiah", read(t, b.ID).Title)
	})

	t.Run("update clears optional fields", func(t *testing.T) {
		var out struct{ UpdateBook apiBook }
		s.Query(t, admin.AccessToken, upd, map[string]any{"id": b.ID, "in": map[string]any{"clearIsbn": true, "clearPublishedYear": true}}).Decode(t, &out)
		require.Nil(t, out.UpdateBook.Isbn)
		require.Nil(t, out.UpdateBook.PublishedYear)
	})

	t.Run("missing book is null", func(t *testing.T) {
		require.Nil(t, read(t, uuid.NewString()))
	})

	t.Run("delete", func(t *testing.T) {
		var out struct{ DeleteBook bool }
		s.Query(t, admin.AccessToken, del, map[string]any{"id": b.ID}).Decode(t, &out)
		require.True(t, out.DeleteBook)
		require.Nil(t, read(t, b.ID), "deleted book is still readable")
	})

	t.Run("update and delete of a missing book", func(t *testing.T) {
		for _, id := range []string{b.ID, uuid.NewString()} {
			r := s.Query(t, admin.AccessToken, upd, map[string]any{"id": id, "in": map[string]any{"title": "Ghost"}})
			requireErr(t, r, "NOT_FOUND", "")
			require.Equal(t, "null", rootData(t, r, "updateBook"))
			requireErr(t, s.Query(t, admin.AccessToken, del, map[string]any{"id": id}), "NOT_FOUND", "")
		}
	})
}

// TestBookValidation sends invalid book inputs and expects BAD_USER_INPUT
// naming the GraphQL field, with nothing stored.
func TestBookValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	admin := s.User(t, "bv-admin@example.com", bitAdmin)
	existing := s.Client.Book.GetX(ctx, mkBook(t, s, "Original").ID) // as stored, for comparisons

	valid := func() map[string]any { return map[string]any{"title": "T", "author": "A"} }
	tests := []struct {
		name  string
		key   string
		value any
		field string
	}{
		{"empty title", "title", "", "title"},
		{"empty author", "author", "", "author"},
		{"long title", "title", strings.Repeat("t", 501), "title"},
		{"year 10000", "publishedYear", 10000, "publishedYear"},
		{"negative year", "publishedYear", -1, "publishedYear"},
		{"isbn of 21 chars", "isbn", strings.Repeat("1", 21), "isbn"},
		{"NUL in title", "title", "bad\u0000title", "title"},
		{"NUL in author", "author", "\u0000", "author"},
		{"NUL in isbn", "isbn", "978\u0000", "isbn"},
	}
	for _, tt := range tests {
		t.Run("create/"+tt.name, func(t *testing.T) {
			in := valid()
			in[tt.key] = tt.value
			before := s.Client.Book.Query().CountX(ctx)
			r := s.Query(t, admin.AccessToken, `mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`, map[string]any{"in": in})
			requireErr(t, r, "BAD_USER_INPUT", tt.field)
			require.Equal(t, before, s.Client.Book.Query().CountX(ctx), "an invalid book was stored")
		})
		t.Run("update/"+tt.name, func(t *testing.T) {
			r := s.Query(t, admin.AccessToken, `mutation($id: ID!, $in: UpdateBookInput!) { updateBook(id: $id, input: $in) { id } }`,
				map[string]any{"id": existing.ID, "in": map[string]any{tt.key: tt.value}})
			requireErr(t, r, "BAD_USER_INPUT", tt.field)
			got := s.Client.Book.GetX(ctx, existing.ID)
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
	s := apitest.New(t, apitest.Options{})
	admin := s.User(t, "ids-admin@example.com", bitAdmin)
	ops := []struct{ field, args, sel string }{
		{"book", "", "{ id }"},
		{"note", "", "{ id }"},
		{"user", "", "{ id }"},
		{"updateBook", `, input: {title: "x"}`, "{ id }"},
		{"deleteBook", "", ""},
		{"updateNote", `, input: {title: "x"}`, "{ id }"},
		{"deleteNote", "", ""},
		{"updateUser", `, input: {firstName: "x"}`, "{ id }"},
		{"deleteUser", "", ""},
	}
	for _, op := range ops {
		kind := "query"
		if strings.HasPrefix(op.field, "update") || strings.HasPrefix(op.field, "delete") {
			kind = "mutation"
		}
		for _, id := range []string{"abc", "", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --"} {
			t.Run(fmt.Sprintf("%s/%q/inline", op.field, id), func(t *testing.T) {
				idJSON, _ := json.Marshal(id)
				q := fmt.Sprintf(`%s { %s(id: %s%s) %s }`, kind, op.field, idJSON, op.args, op.sel)
				requireErr(t, s.Query(t, admin.AccessToken, q, nil), "BAD_USER_INPUT", "id")
			})
			t.Run(fmt.Sprintf("%s/%q/variable", op.field, id), func(t *testing.T) {
				q := fmt.Sprintf(`%s($id: ID!) { %s(id: $id%s) %s }`, kind, op.field, op.args, op.sel)
				requireErr(t, s.Query(t, admin.AccessToken, q, map[string]any{"id": id}), "BAD_USER_INPUT", "id")
			})
		}
	}
}

// TestNotesArePrivate checks that another user's notes, even an ADMIN's
// view of them, are indistinguishable from missing ones.
func TestNotesArePrivate(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	alice := s.User(t, "np-alice@example.com", bitFree)
	bob := s.User(t, "np-bob@example.com", bitFree)
	admin := s.User(t, "np-admin@example.com", bitAdmin)

	create := func(t *testing.T, token, title string) string {
		t.Helper()
		var out struct{ CreateNote struct{ ID string } }
		s.Query(t, token, `mutation($in: CreateNoteInput!) { createNote(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": title, "content": title + " content"}}).Decode(t, &out)
		return out.CreateNote.ID
	}
	aliceNote := create(t, alice.AccessToken, "alice secret")
	bobNote := create(t, bob.AccessToken, "bob note")
	before := s.Client.Note.GetX(ctx, uuid.MustParse(aliceNote))

	t.Run("notes lists only the caller's", func(t *testing.T) {
		for _, c := range []struct {
			token string
			want  []string
		}{{alice.AccessToken, []string{aliceNote}}, {bob.AccessToken, []string{bobNote}}, {admin.AccessToken, []string{}}} {
			var out struct {
				Notes struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID string } }
				}
			}
			s.Query(t, c.token, `{ notes(first: 100) { totalCount edges { node { id } } } }`, nil).Decode(t, &out)
			got := []string{}
			for _, e := range out.Notes.Edges {
				got = append(got, e.Node.ID)
			}
			require.Equal(t, c.want, got)
			require.Equal(t, len(c.want), out.Notes.TotalCount)
		}
	})

	t.Run("owner reads their note", func(t *testing.T) {
		var out struct{ Note struct{ ID, Title string } }
		s.Query(t, alice.AccessToken, `query($id: ID!) { note(id: $id) { id title } }`, map[string]any{"id": aliceNote}).Decode(t, &out)
		require.Equal(t, "alice secret", out.Note.Title)
	})

	ops := []struct {
		name, query, field string
		in                 map[string]any
	}{
		{"note", `query($id: ID!) { note(id: $id) { id title content owner { email } } }`, "note", nil},
		{"updateNote", `mutation($id: ID!, $in: UpdateNoteInput!) { updateNote(id: $id, input: $in) { id title } }`, "updateNote",
			map[string]any{"title": "pwned", "content": "pwned"}},
		{"deleteNote", `mutation($id: ID!) { deleteNote(id: $id) }`, "deleteNote", nil},
	}
	for _, op := range ops {
		for _, c := range []struct {
			name  string
			token string
		}{{"other user", bob.AccessToken}, {"admin", admin.AccessToken}} {
			t.Run(op.name+"/"+c.name, func(t *testing.T) {
				vars := func(id string) map[string]any {
					v := map[string]any{"id": id}
					if op.in != nil {
						v["in"] = op.in
					}
					return v
				}
				missing := s.Query(t, c.token, op.query, vars(uuid.NewString()))
				foreign := s.Query(t, c.token, op.query, vars(aliceNote))
				requireErr(t, missing, "NOT_FOUND", "")
				requireErr(t, foreign, "NOT_FOUND", "")
				require.Equal(t, "null", rootData(t, foreign, op.field))
				require.Equal(t, missing.Status, foreign.Status)
				require.JSONEq(t, string(missing.Body), string(foreign.Body),
					"someone else's note must answer exactly like a missing one")

				after := s.Client.Note.GetX(ctx, uuid.MustParse(aliceNote))
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
	s := apitest.New(t, apitest.Options{})
	u := s.User(t, "n1@example.com", bitFree)
	owner := uuid.MustParse(u.User.ID)
	const q = `{ notes(first: 30) { totalCount edges { cursor node { id title owner { id email } } } pageInfo { hasNextPage endCursor } } }`

	count := func(t *testing.T, want int) int64 {
		t.Helper()
		before := s.SQLCount()
		var out struct {
			Notes struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Owner struct{ ID, Email string }
					}
				}
			}
		}
		s.Query(t, u.AccessToken, q, nil).Decode(t, &out)
		delta := s.SQLCount() - before
		require.Equal(t, want, out.Notes.TotalCount)
		require.Len(t, out.Notes.Edges, want)
		for _, e := range out.Notes.Edges {
			require.Equal(t, u.User.ID, e.Node.Owner.ID)
			require.Equal(t, u.User.Email, e.Node.Owner.Email)
		}
		return delta
	}

	for range 5 {
		mkNote(t, s, owner)
	}
	five := count(t, 5)
	for range 25 {
		mkNote(t, s, owner)
	}
	thirty := count(t, 30)
	t.Logf("SQL statements: %d for 5 notes, %d for 30 notes", five, thirty)
	require.Equal(t, five, thirty, "SQL statements grow with the page: N+1")
	require.LessOrEqual(t, thirty, int64(6), "too many SQL statements for one page")
}

// pageOf is a decoded Relay connection of books.
type pageOf struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct{ ID string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

// ids returns the node ids of the page, in order.
func (p pageOf) ids() []string {
	out := []string{}
	for _, e := range p.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

// TestBookPagination walks the books connection both ways and tries every
// bad page argument.
func TestBookPagination(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	reader := s.User(t, "pg-reader@example.com", bitFree)
	var all []string
	for i := range 25 {
		all = append(all, mkBook(t, s, fmt.Sprintf("book %02d", i)).ID.String())
	}
	const q = `query($first: Int, $after: String, $last: Int, $before: String) {
		books(first: $first, after: $after, last: $last, before: $before) {
			totalCount edges { cursor node { id } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	page := func(t *testing.T, vars map[string]any) pageOf {
		t.Helper()
		var out struct{ Books pageOf }
		s.Query(t, reader.AccessToken, q, vars).Decode(t, &out)
		require.Equal(t, 25, out.Books.TotalCount, "totalCount")
		return out.Books
	}

	t.Run("default page of 10", func(t *testing.T) {
		p := page(t, nil)
		require.Equal(t, all[:10], p.ids())
		require.True(t, p.PageInfo.HasNextPage)
	})

	t.Run("first 100", func(t *testing.T) {
		p := page(t, map[string]any{"first": 100})
		require.Equal(t, all, p.ids())
		require.False(t, p.PageInfo.HasNextPage)
	})

	t.Run("first 0", func(t *testing.T) {
		require.Empty(t, page(t, map[string]any{"first": 0}).Edges)
	})

	t.Run("forward by 7", func(t *testing.T) {
		var seen []string
		var after any
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, pages, 4, "more pages than 25/7 needs")
			p := page(t, map[string]any{"first": 7, "after": after})
			require.LessOrEqual(t, len(p.Edges), 7)
			require.NotEmpty(t, p.Edges, "empty page before the end")
			require.Equal(t, p.Edges[len(p.Edges)-1].Cursor, *p.PageInfo.EndCursor)
			seen = append(seen, p.ids()...)
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
			p := page(t, map[string]any{"last": 7, "before": before})
			require.LessOrEqual(t, len(p.Edges), 7)
			require.NotEmpty(t, p.Edges, "empty page before the start")
			require.Equal(t, p.Edges[0].Cursor, *p.PageInfo.StartCursor)
			seen = append(p.ids(), seen...)
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
	window := page(t, map[string]any{"first": 25})
	for _, tt := range []struct {
		name string
		vars map[string]any
		want []string
	}{
		{"first with after and before", map[string]any{"first": 100, "after": window.Edges[4].Cursor, "before": window.Edges[9].Cursor}, all[5:9]},
		{"last with after and before", map[string]any{"last": 100, "after": window.Edges[4].Cursor, "before": window.Edges[9].Cursor}, all[5:9]},
		{"last with after", map[string]any{"last": 100, "after": window.Edges[19].Cursor}, all[20:]},
		{"first with before", map[string]any{"first": 100, "before": window.Edges[5].Cursor}, all[:5]},
	} {
		t.Run("mixed cursor directions/"+tt.name, func(t *testing.T) {
			r := s.Query(t, reader.AccessToken, q, tt.vars)
			if len(r.Errors) > 0 {
				requireErr(t, r, "BAD_USER_INPUT", "")
				return
			}
			var out struct{ Books pageOf }
			r.Decode(t, &out)
			require.Equal(t, tt.want, out.Books.ids(), "books(%v) returned books outside the cursors", tt.vars)
		})
	}

	// forged is a well-formed cursor whose value is not one the server
	// issues: a map where the sort value would be.
	var buf bytes.Buffer
	ent.Cursor{ID: uuid.New(), Value: map[string]any{"x": []any{1, "y"}}}.MarshalGQL(&buf)
	forged := strings.Trim(buf.String(), `"`)

	bad := []struct {
		name  string
		vars  map[string]any
		field string
	}{
		{"first 101", map[string]any{"first": 101}, "first"},
		{"last 101", map[string]any{"last": 101}, "last"},
		{"first -1", map[string]any{"first": -1}, "first"},
		{"last -1", map[string]any{"last": -1}, "last"},
		{"garbage after", map[string]any{"after": "garbage!"}, "after"},
		{"garbage before", map[string]any{"last": 5, "before": "%%%"}, "before"},
		{"base64 non-cursor after", map[string]any{"after": "Zm9vYmFy"}, "after"},
		{"huge cursor", map[string]any{"after": strings.Repeat("A", 100_000)}, "after"},
		{"forged cursor with a sort value", map[string]any{"first": 5, "after": forged}, "after"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(t, reader.AccessToken, q, tt.vars)
			requireErr(t, r, "BAD_USER_INPUT", tt.field)
			require.Equal(t, "null", rootData(t, r, "books"))
		})
	}

	// Ints beyond 32 bits are not GraphQL Ints; any contract code but an
	// internal error will do, and never a 5xx (the harness checks that).
	for _, n := range []string{"2147483648", "-2147483649", "9223372036854775808", "1e100", "99999999999999999999999999"} {
		t.Run("first "+n+"/inline", func(t *testing.T) {
			r := s.Query(t, reader.AccessToken, `{ books(first: `+n+`) { totalCount } }`, nil)
			require.NotEmpty(t, r.Errors, "first: %s accepted: %s", n, r.Body)
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "first: %s: %s", n, r.Body)
		})
		t.Run("first "+n+"/variable", func(t *testing.T) {
			body := []byte(`{"query":"query($f: Int) { books(first: $f) { totalCount } }","variables":{"f":` + n + `}}`)
			r := s.Raw(t, "POST", "/graphql", map[string][]string{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + reader.AccessToken}}, body)
			require.NotEmpty(t, r.Errors, "first: %s accepted: %s", n, r.Body)
			require.NotEqual(t, "INTERNAL_SERVER_ERROR", r.Code(), "first: %s: %s", n, r.Body)
		})
	}
}
