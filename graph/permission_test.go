package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/ent/book"
	"bitgate/ent/note"
	"bitgate/ent/session"
	"bitgate/ent/user"
	"bitgate/internal/apitest"
)

// Permission bits of the contract.
const (
	bitFree  = 1
	bitPaid  = 4
	bitAdmin = 2048
)

// Who may call a root field: public (anyone), signedIn (any signed-in user)
// or a permission bit (@hasPermission).
const (
	public   = -1
	signedIn = 0
)

// permCaller is one caller of the permission matrix.
type permCaller struct {
	name  string
	anon  bool
	level int
	email string
	token string
	id    uuid.UUID
}

// permCall is one request of the matrix, with an optional check of its side
// effect: done tells whether the call was allowed.
type permCall struct {
	token string // the caller's token if empty
	query string
	vars  map[string]any
	check func(t *testing.T, done bool)
}

// TestPermissionMatrix calls every root field of the contract as every kind
// of caller and holds the answer to @hasPermission: allowed iff
// level & (bit|ADMIN) != 0; no caller is UNAUTHENTICATED, a caller without
// the bit is FORBIDDEN, and a refused mutation changes nothing.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()

	callers := []permCaller{{name: "anonymous", anon: true}}
	for _, c := range []struct {
		name  string
		level int
	}{
		{"level0", 0}, {"FREE", bitFree}, {"PAID", bitPaid}, {"FREE|PAID", bitFree | bitPaid}, {"ADMIN", bitAdmin},
	} {
		email := fmt.Sprintf("matrix-%d@example.com", c.level)
		p := s.User(t, email, c.level)
		callers = append(callers, permCaller{
			name: c.name, level: c.level, email: email, token: p.AccessToken, id: uuid.MustParse(p.User.ID),
		})
	}

	bookExists := func(t *testing.T, id uuid.UUID) bool {
		t.Helper()
		ok, err := s.Client.Book.Query().Where(book.ID(id)).Exist(ctx)
		require.NoError(t, err)
		return ok
	}
	noteExists := func(t *testing.T, id uuid.UUID) bool {
		t.Helper()
		ok, err := s.Client.Note.Query().Where(note.ID(id)).Exist(ctx)
		require.NoError(t, err)
		return ok
	}
	// ownNote is a note of c, or a random id for an anonymous caller.
	ownNote := func(t *testing.T, c permCaller) uuid.UUID {
		t.Helper()
		if c.anon {
			return uuid.New()
		}
		return mkNote(t, s, c.id).ID
	}
	// self is c's own id, or a random one for an anonymous caller.
	self := func(c permCaller) uuid.UUID {
		if c.anon {
			return uuid.New()
		}
		return c.id
	}

	cases := []struct {
		field string
		need  int
		call  func(t *testing.T, c permCaller) permCall
	}{
		{"me", signedIn, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `{ me { id } }`}
		}},
		{"user", signedIn, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `query($id: ID!) { user(id: $id) { id } }`, vars: map[string]any{"id": self(c)}}
		}},
		{"users", bitPaid, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `{ users { totalCount } }`}
		}},
		{"books", bitFree, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `{ books { totalCount } }`}
		}},
		{"book", public, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `query($id: ID!) { book(id: $id) { id } }`, vars: map[string]any{"id": mkBook(t, s, uniq("b")).ID}}
		}},
		{"notes", bitFree, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `{ notes { totalCount } }`}
		}},
		{"note", bitFree, func(t *testing.T, c permCaller) permCall {
			return permCall{query: `query($id: ID!) { note(id: $id) { id } }`, vars: map[string]any{"id": ownNote(t, c)}}
		}},
		{"signout", signedIn, func(t *testing.T, c permCaller) permCall {
			// A fresh session, so that the caller's main token survives.
			token := ""
			if !c.anon {
				token = s.Signin(t, c.email, apitest.Password).AccessToken
			}
			return permCall{token: token, query: `mutation { signout }`, check: func(t *testing.T, done bool) {
				if c.anon {
					return
				}
				r := s.Query(t, token, `{ me { id } }`, nil)
				if done {
					requireErr(t, r, "UNAUTHENTICATED", "")
				} else {
					require.Empty(t, r.Errors, "refused signout ended the session: %s", r.Body)
				}
				r = s.Query(t, c.token, `{ me { id } }`, nil)
				require.Empty(t, r.Errors, "signout of one session ended another: %s", r.Body)
			}}
		}},
		{"createUser", bitAdmin, func(t *testing.T, c permCaller) permCall {
			email := uniq("new") + "@example.com"
			return permCall{
				query: `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`,
				vars: map[string]any{"in": map[string]any{
					"firstName": "N", "lastName": "U", "email": email, "password": apitest.Password, "permissionLevel": bitAdmin,
				}},
				check: func(t *testing.T, done bool) {
					ok, err := s.Client.User.Query().Where(user.Email(email)).Exist(ctx)
					require.NoError(t, err)
					require.Equal(t, done, ok, "user %s exists", email)
				},
			}
		}},
		{"updateUser", signedIn, func(t *testing.T, c permCaller) permCall {
			id := self(c)
			name := uniq("Renamed")
			return permCall{
				query: `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id firstName } }`,
				vars:  map[string]any{"id": id, "in": map[string]any{"firstName": name}},
				check: func(t *testing.T, done bool) {
					n, err := s.Client.User.Query().Where(user.FirstName(name)).Count(ctx)
					require.NoError(t, err)
					require.Equal(t, done, n == 1, "firstName set to %s", name)
				},
			}
		}},
		{"deleteUser", bitAdmin, func(t *testing.T, c permCaller) permCall {
			victim := mkUserRow(t, s, bitFree)
			return permCall{
				query: `mutation($id: ID!) { deleteUser(id: $id) }`,
				vars:  map[string]any{"id": victim.ID},
				check: func(t *testing.T, done bool) {
					ok, err := s.Client.User.Query().Where(user.ID(victim.ID)).Exist(ctx)
					require.NoError(t, err)
					require.Equal(t, !done, ok, "victim still exists")
				},
			}
		}},
		{"createBook", bitAdmin, func(t *testing.T, c permCaller) permCall {
			title := uniq("created")
			return permCall{
				query: `mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`,
				vars:  map[string]any{"in": map[string]any{"title": title, "author": "A"}},
				check: func(t *testing.T, done bool) {
					ok, err := s.Client.Book.Query().Where(book.Title(title)).Exist(ctx)
					require.NoError(t, err)
					require.Equal(t, done, ok, "book %s exists", title)
				},
			}
		}},
		{"updateBook", bitAdmin, func(t *testing.T, c permCaller) permCall {
			b := mkBook(t, s, uniq("before"))
			return permCall{
				query: `mutation($id: ID!, $in: UpdateBookInput!) { updateBook(id: $id, input: $in) { id } }`,
				vars:  map[string]any{"id": b.ID, "in": map[string]any{"title": "after"}},
				check: func(t *testing.T, done bool) {
					got := s.Client.Book.GetX(ctx, b.ID)
					require.Equal(t, done, got.Title == "after", "title is %q", got.Title)
				},
			}
		}},
		{"deleteBook", bitAdmin, func(t *testing.T, c permCaller) permCall {
			b := mkBook(t, s, uniq("doomed"))
			return permCall{
				query: `mutation($id: ID!) { deleteBook(id: $id) }`,
				vars:  map[string]any{"id": b.ID},
				check: func(t *testing.T, done bool) { require.Equal(t, !done, bookExists(t, b.ID), "book still exists") },
			}
		}},
		{"createNote", bitFree, func(t *testing.T, c permCaller) permCall {
			title := uniq("note")
			return permCall{
				query: `mutation($in: CreateNoteInput!) { createNote(input: $in) { id } }`,
				vars:  map[string]any{"in": map[string]any{"title": title, "content": "c"}},
				check: func(t *testing.T, done bool) {
					ok, err := s.Client.Note.Query().Where(note.Title(title)).Exist(ctx)
					require.NoError(t, err)
					require.Equal(t, done, ok, "note %s exists", title)
				},
			}
		}},
		// updateNote and deleteNote carry no @hasPermission: the owner may.
		{"updateNote", signedIn, func(t *testing.T, c permCaller) permCall {
			id := ownNote(t, c)
			return permCall{
				query: `mutation($id: ID!, $in: UpdateNoteInput!) { updateNote(id: $id, input: $in) { id } }`,
				vars:  map[string]any{"id": id, "in": map[string]any{"title": "changed"}},
				check: func(t *testing.T, done bool) {
					if c.anon {
						return
					}
					got := s.Client.Note.GetX(ctx, id)
					require.Equal(t, done, got.Title == "changed", "title is %q", got.Title)
				},
			}
		}},
		{"deleteNote", signedIn, func(t *testing.T, c permCaller) permCall {
			id := ownNote(t, c)
			return permCall{
				query: `mutation($id: ID!) { deleteNote(id: $id) }`,
				vars:  map[string]any{"id": id},
				check: func(t *testing.T, done bool) {
					if !c.anon {
						require.Equal(t, !done, noteExists(t, id), "note still exists")
					}
				},
			}
		}},
	}

	for _, tc := range cases {
		for _, c := range callers {
			t.Run(tc.field+"/"+c.name, func(t *testing.T) {
				call := tc.call(t, c)
				token := c.token
				if call.token != "" {
					token = call.token
				}
				r := s.Query(t, token, call.query, call.vars)
				want := ""
				switch {
				case tc.need == public:
				case c.anon:
					want = "UNAUTHENTICATED"
				case tc.need != signedIn && c.level&(tc.need|bitAdmin) == 0:
					want = "FORBIDDEN"
				}
				if want == "" {
					require.Empty(t, r.Errors, "%s as %s (level %d) must be allowed: %s", tc.field, c.name, c.level, r.Body)
					require.NotEqual(t, "null", rootData(t, r, tc.field), "%s as %s: no data: %s", tc.field, c.name, r.Body)
				} else {
					e := requireErr(t, r, want, "")
					require.Equal(t, []any{tc.field}, e.Path, "error path of %s", r.Body)
					require.Equal(t, "null", rootData(t, r, tc.field), "%s as %s leaked data: %s", tc.field, c.name, r.Body)
				}
				if call.check != nil {
					call.check(t, want == "")
				}
			})
		}
	}
}

// TestUserQueryVisibility checks user(id): oneself yes, anyone else
// FORBIDDEN unless ADMIN (without telling whether the id exists), and null
// for an ADMIN asking a missing id.
func TestUserQueryVisibility(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	admin := s.User(t, "vis-admin@example.com", bitAdmin)
	alice := s.User(t, "vis-alice@example.com", bitFree)
	bob := s.User(t, "vis-bob@example.com", bitFree|bitPaid)
	const q = `query($id: ID!) { user(id: $id) { id email } }`

	tests := []struct {
		name   string
		token  string
		id     string
		want   string // the email answered, "" for null
		wantEC string // the error code, "" for none
	}{
		{"self", alice.AccessToken, alice.User.ID, alice.User.Email, ""},
		{"paid self", bob.AccessToken, bob.User.ID, bob.User.Email, ""},
		{"other", alice.AccessToken, bob.User.ID, "", "FORBIDDEN"},
		{"paid other", bob.AccessToken, alice.User.ID, "", "FORBIDDEN"},
		{"non-admin missing id", alice.AccessToken, uuid.NewString(), "", "FORBIDDEN"},
		{"admin other", admin.AccessToken, bob.User.ID, bob.User.Email, ""},
		{"admin self", admin.AccessToken, admin.User.ID, admin.User.Email, ""},
		{"admin missing id", admin.AccessToken, uuid.NewString(), "", ""},
		{"anonymous", "", alice.User.ID, "", "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(t, tt.token, q, map[string]any{"id": tt.id})
			if tt.wantEC != "" {
				requireErr(t, r, tt.wantEC, "")
				require.Equal(t, "null", rootData(t, r, "user"), "data leaked: %s", r.Body)
				return
			}
			var out struct{ User *apitest.User }
			r.Decode(t, &out)
			if tt.want == "" {
				require.Nil(t, out.User, "user(%s) = %s, want null", tt.id, r.Body)
				return
			}
			require.NotNil(t, out.User, "user(%s) = null", tt.id)
			require.Equal(t, tt.id, out.User.ID)
			require.Equal(t, tt.want, out.User.Email)
		})
	}
}

// TestUpdateUserRules tries every way the contract forbids to change a user,
// and checks that each refused update changed nothing.
func TestUpdateUserRules(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	admin := s.User(t, "upd-admin@example.com", bitAdmin)
	alice := s.User(t, "upd-alice@example.com", bitFree)
	bob := s.User(t, "upd-bob@example.com", bitFree)
	carol := s.User(t, "upd-carol@example.com", bitFree)
	dave := s.User(t, "upd-dave@example.com", bitFree)

	const q = `mutation($id: ID!, $in: UpdateUserInput!) {
		updateUser(id: $id, input: $in) { id firstName email permissionLevel permissions } }`
	update := func(t *testing.T, token, id string, in map[string]any) *apitest.Response {
		t.Helper()
		return s.Query(t, token, q, map[string]any{"id": id, "in": in})
	}
	// unchanged requires that the user's stored row did not change across fn.
	unchanged := func(t *testing.T, id string, fn func()) {
		t.Helper()
		before := s.Client.User.GetX(ctx, uuid.MustParse(id))
		fn()
		after := s.Client.User.GetX(ctx, uuid.MustParse(id))
		require.Equal(t, before.FirstName, after.FirstName, "firstName changed")
		require.Equal(t, before.Email, after.Email, "email changed")
		require.Equal(t, before.PasswordHash, after.PasswordHash, "password changed")
		require.Equal(t, before.PermissionLevel, after.PermissionLevel, "permissionLevel changed")
		require.Equal(t, before.UpdatedAt, after.UpdatedAt, "updatedAt changed")
	}

	refused := []struct {
		name  string
		token string
		id    string
		in    map[string]any
		code  string
		field string
	}{
		{"non-admin updates another user", alice.AccessToken, bob.User.ID, map[string]any{"firstName": "Hacked"}, "FORBIDDEN", ""},
		{"non-admin updates another user's email", alice.AccessToken, bob.User.ID, map[string]any{"email": "x@example.com"}, "FORBIDDEN", ""},
		{"non-admin sets own level to the same value", alice.AccessToken, alice.User.ID, map[string]any{"permissionLevel": bitFree}, "FORBIDDEN", ""},
		{"non-admin promotes self", alice.AccessToken, alice.User.ID, map[string]any{"permissionLevel": bitAdmin | bitFree}, "FORBIDDEN", ""},
		{"non-admin promotes self with other fields", alice.AccessToken, alice.User.ID, map[string]any{"firstName": "Sneaky", "permissionLevel": bitAdmin}, "FORBIDDEN", ""},
		{"non-admin sets another's level", alice.AccessToken, bob.User.ID, map[string]any{"permissionLevel": bitAdmin}, "FORBIDDEN", ""},
		{"admin sets own level", admin.AccessToken, admin.User.ID, map[string]any{"permissionLevel": bitAdmin | bitFree | bitPaid}, "FORBIDDEN", ""},
		{"admin demotes self", admin.AccessToken, admin.User.ID, map[string]any{"permissionLevel": bitFree}, "FORBIDDEN", ""},
		{"admin sets own level to the same value", admin.AccessToken, admin.User.ID, map[string]any{"permissionLevel": bitAdmin}, "FORBIDDEN", ""},
		{"unknown bit 8", admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": 8}, "BAD_USER_INPUT", "permissionLevel"},
		{"unknown bit 2", admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": 2}, "BAD_USER_INPUT", "permissionLevel"},
		{"unknown bit 4096", admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": 4096}, "BAD_USER_INPUT", "permissionLevel"},
		{"known and unknown bits", admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": bitAdmin | 8}, "BAD_USER_INPUT", "permissionLevel"},
		{"negative level", admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": -1}, "BAD_USER_INPUT", "permissionLevel"},
		{"self email without currentPassword", alice.AccessToken, alice.User.ID, map[string]any{"email": "new-alice@example.com"}, "BAD_USER_INPUT", "currentPassword"},
		{"self email with empty currentPassword", alice.AccessToken, alice.User.ID, map[string]any{"email": "new-alice@example.com", "currentPassword": ""}, "BAD_USER_INPUT", "currentPassword"},
		{"self email and name without currentPassword", alice.AccessToken, alice.User.ID, map[string]any{"firstName": "Partial", "email": "new-alice@example.com"}, "BAD_USER_INPUT", "currentPassword"},
		{"self password without currentPassword", alice.AccessToken, alice.User.ID, map[string]any{"password": "another long password"}, "BAD_USER_INPUT", "currentPassword"},
		{"self email with wrong currentPassword", alice.AccessToken, alice.User.ID, map[string]any{"email": "new-alice@example.com", "currentPassword": "wrong password!"}, "UNAUTHENTICATED", ""},
		{"self email to a taken email (case variant)", alice.AccessToken, alice.User.ID, map[string]any{"email": "  UPD-Bob@Example.COM ", "currentPassword": apitest.Password}, "CONFLICT", ""},
		{"admin sets a taken email (case variant)", admin.AccessToken, dave.User.ID, map[string]any{"email": "UPD-BOB@example.com"}, "CONFLICT", ""},
		{"admin updates a missing user", admin.AccessToken, uuid.NewString(), map[string]any{"firstName": "Ghost"}, "NOT_FOUND", ""},
		{"non-admin updates a missing user", alice.AccessToken, uuid.NewString(), map[string]any{"firstName": "Ghost"}, "FORBIDDEN", ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			check := func(fn func()) { fn() }
			if _, err := uuid.Parse(tt.id); err == nil && s.Client.User.Query().Where(user.ID(uuid.MustParse(tt.id))).ExistX(ctx) {
				check = func(fn func()) { unchanged(t, tt.id, fn) }
			}
			check(func() {
				r := update(t, tt.token, tt.id, tt.in)
				requireErr(t, r, tt.code, tt.field)
				require.Equal(t, "null", rootData(t, r, "updateUser"), "refused update returned data: %s", r.Body)
			})
		})
	}

	t.Run("admin changes another's level, effective with their old token", func(t *testing.T) {
		r := s.Query(t, carol.AccessToken, `{ books { totalCount } }`, nil)
		require.Empty(t, r.Errors, "FREE carol reads books: %s", r.Body)
		requireErr(t, s.Query(t, carol.AccessToken, `{ users { totalCount } }`, nil), "FORBIDDEN", "")

		var out struct{ UpdateUser apitest.User }
		update(t, admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": bitPaid}).Decode(t, &out)
		require.Equal(t, bitPaid, out.UpdateUser.PermissionLevel)
		require.Equal(t, []string{"PAID"}, out.UpdateUser.Permissions)

		requireErr(t, s.Query(t, carol.AccessToken, `{ books { totalCount } }`, nil), "FORBIDDEN", "")
		r = s.Query(t, carol.AccessToken, `{ users { totalCount } }`, nil)
		require.Empty(t, r.Errors, "PAID carol reads users with her old token: %s", r.Body)
		var me struct{ Me apitest.User }
		s.Query(t, carol.AccessToken, `{ me { permissionLevel permissions } }`, nil).Decode(t, &me)
		require.Equal(t, bitPaid, me.Me.PermissionLevel)
		require.Equal(t, []string{"PAID"}, me.Me.Permissions)

		update(t, admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": 0}).Decode(t, &out)
		requireErr(t, s.Query(t, carol.AccessToken, `{ users { totalCount } }`, nil), "FORBIDDEN", "")
		requireErr(t, s.Query(t, carol.AccessToken, `{ notes { totalCount } }`, nil), "FORBIDDEN", "")

		update(t, admin.AccessToken, carol.User.ID, map[string]any{"permissionLevel": bitAdmin}).Decode(t, &out)
		require.Equal(t, []string{"ADMIN"}, out.UpdateUser.Permissions)
		r = s.Query(t, carol.AccessToken, `mutation { createBook(input: {title: "by carol", author: "C"}) { id } }`, nil)
		require.Empty(t, r.Errors, "promoted carol creates a book with her old token: %s", r.Body)
	})

	t.Run("admin changes another's email without currentPassword", func(t *testing.T) {
		var out struct{ UpdateUser apitest.User }
		update(t, admin.AccessToken, dave.User.ID, map[string]any{"email": "  Dave.New@Example.COM "}).Decode(t, &out)
		require.Equal(t, "dave.new@example.com", out.UpdateUser.Email)
		require.Equal(t, "dave.new@example.com", s.Client.User.GetX(ctx, uuid.MustParse(dave.User.ID)).Email)
	})

	t.Run("self email change with currentPassword", func(t *testing.T) {
		var out struct{ UpdateUser apitest.User }
		update(t, bob.AccessToken, bob.User.ID, map[string]any{
			"email": "Bob.Renamed@Example.com", "currentPassword": apitest.Password,
		}).Decode(t, &out)
		require.Equal(t, "bob.renamed@example.com", out.UpdateUser.Email)
		require.Equal(t, bitFree, out.UpdateUser.PermissionLevel)
	})
}

// TestDeleteUser checks deleteUser: not oneself, and a deleted user's
// notes and sessions go with them, so that their token stops working.
func TestDeleteUser(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	admin := s.User(t, "del-admin@example.com", bitAdmin)
	victim := s.User(t, "del-victim@example.com", bitFree)
	bystander := s.User(t, "del-bystander@example.com", bitFree)
	victimID := uuid.MustParse(victim.User.ID)

	for i := range 3 {
		r := s.Query(t, victim.AccessToken, `mutation($in: CreateNoteInput!) { createNote(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": fmt.Sprint("v", i), "content": "secret"}})
		require.Empty(t, r.Errors, "victim creates a note: %s", r.Body)
	}
	kept := mkNote(t, s, uuid.MustParse(bystander.User.ID))
	require.Equal(t, 3, s.Client.Note.Query().Where(note.OwnerID(victimID)).CountX(ctx))
	require.Positive(t, s.Client.Session.Query().Where(session.UserID(victimID)).CountX(ctx))

	const del = `mutation($id: ID!) { deleteUser(id: $id) }`

	t.Run("admin deletes themself", func(t *testing.T) {
		r := s.Query(t, admin.AccessToken, del, map[string]any{"id": admin.User.ID})
		requireErr(t, r, "FORBIDDEN", "")
		require.True(t, s.Client.User.Query().Where(user.ID(uuid.MustParse(admin.User.ID))).ExistX(ctx), "admin was deleted")
		r = s.Query(t, admin.AccessToken, `{ me { id } }`, nil)
		require.Empty(t, r.Errors, "admin token after refused self-delete: %s", r.Body)
	})

	t.Run("non-admin deletes another", func(t *testing.T) {
		requireErr(t, s.Query(t, bystander.AccessToken, del, map[string]any{"id": victim.User.ID}), "FORBIDDEN", "")
		require.True(t, s.Client.User.Query().Where(user.ID(victimID)).ExistX(ctx))
	})

	t.Run("admin deletes another", func(t *testing.T) {
		var out struct{ DeleteUser bool }
		s.Query(t, admin.AccessToken, del, map[string]any{"id": victim.User.ID}).Decode(t, &out)
		require.True(t, out.DeleteUser)

		require.False(t, s.Client.User.Query().Where(user.ID(victimID)).ExistX(ctx), "user row remains")
		require.Zero(t, s.Client.Note.Query().Where(note.OwnerID(victimID)).CountX(ctx), "deleted user's notes remain")
		require.Zero(t, s.Client.Session.Query().Where(session.UserID(victimID)).CountX(ctx), "deleted user's sessions remain")
		require.True(t, s.Client.Note.Query().Where(note.ID(kept.ID)).ExistX(ctx), "another user's note was deleted")

		requireErr(t, s.Query(t, victim.AccessToken, `{ me { id } }`, nil), "UNAUTHENTICATED", "")
		requireErr(t, s.Query(t, victim.AccessToken, `{ notes { totalCount } }`, nil), "UNAUTHENTICATED", "")
		requireErr(t, s.Query(t, "", `mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }`,
			map[string]any{"t": victim.RefreshToken}), "UNAUTHENTICATED", "")

		var notes struct {
			Notes struct{ TotalCount int }
		}
		s.Query(t, bystander.AccessToken, `{ notes { totalCount } }`, nil).Decode(t, &notes)
		require.Equal(t, 1, notes.Notes.TotalCount)
	})

	t.Run("deleted user again", func(t *testing.T) {
		requireErr(t, s.Query(t, admin.AccessToken, del, map[string]any{"id": victim.User.ID}), "NOT_FOUND", "")
	})

	t.Run("missing id", func(t *testing.T) {
		requireErr(t, s.Query(t, admin.AccessToken, del, map[string]any{"id": uuid.NewString()}), "NOT_FOUND", "")
	})
}

// TestCreateUserByAdmin checks createUser: any level, decoded permissions,
// emails normalised and unique, unknown bits refused.
func TestCreateUserByAdmin(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	admin := s.User(t, "cu-admin@example.com", bitAdmin)
	const q = `mutation($in: CreateUserInput!) { createUser(input: $in) { id email permissionLevel permissions } }`
	input := func(email string, level any) map[string]any {
		in := map[string]any{"firstName": "New", "lastName": "User", "email": email, "password": apitest.Password}
		if level != nil {
			in["permissionLevel"] = level
		}
		return map[string]any{"in": in}
	}

	created := []struct {
		name  string
		email string
		level any
		want  []string
	}{
		{"PAID only", "cu-paid@example.com", bitPaid, []string{"PAID"}},
		{"default FREE", "cu-free@example.com", nil, []string{"FREE"}},
		{"no bits", "cu-none@example.com", 0, []string{}},
		{"every bit", "cu-all@example.com", bitFree | bitPaid | bitAdmin, []string{"FREE", "PAID", "ADMIN"}},
	}
	for _, tt := range created {
		t.Run(tt.name, func(t *testing.T) {
			var out struct{ CreateUser apitest.User }
			s.Query(t, admin.AccessToken, q, input(tt.email, tt.level)).Decode(t, &out)
			require.Equal(t, tt.want, out.CreateUser.Permissions)
			require.Equal(t, tt.email, out.CreateUser.Email)
			stored := s.Client.User.GetX(ctx, uuid.MustParse(out.CreateUser.ID))
			require.Equal(t, out.CreateUser.PermissionLevel, stored.PermissionLevel)
		})
	}

	t.Run("PAID user signs in with PAID rights", func(t *testing.T) {
		p := s.Signin(t, "cu-paid@example.com", apitest.Password)
		require.Equal(t, []string{"PAID"}, p.User.Permissions)
		r := s.Query(t, p.AccessToken, `{ users { totalCount } }`, nil)
		require.Empty(t, r.Errors, "PAID user reads users: %s", r.Body)
		requireErr(t, s.Query(t, p.AccessToken, `{ books { totalCount } }`, nil), "FORBIDDEN", "")
	})

	refused := []struct {
		name  string
		email string
		level any
		code  string
		field string
	}{
		{"duplicate email", "cu-paid@example.com", nil, "CONFLICT", ""},
		{"duplicate email, case and space variant", "  CU-Paid@EXAMPLE.com ", nil, "CONFLICT", ""},
		{"duplicate of the admin", "CU-ADMIN@example.com", bitAdmin, "CONFLICT", ""},
		{"unknown bit", "cu-eight@example.com", 8, "BAD_USER_INPUT", "permissionLevel"},
		{"negative level", "cu-neg@example.com", -2048, "BAD_USER_INPUT", "permissionLevel"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Client.User.Query().CountX(ctx)
			r := s.Query(t, admin.AccessToken, q, input(tt.email, tt.level))
			requireErr(t, r, tt.code, tt.field)
			require.Equal(t, before, s.Client.User.Query().CountX(ctx), "a user was created")
		})
	}
}

// requireErr requires that r failed with exactly one error with code (and,
// when field is given, extensions.field), and returns that error.
func requireErr(t testing.TB, r *apitest.Response, code, field string) apitest.Error {
	t.Helper()
	require.Len(t, r.Errors, 1, "want one %s error, got %s", code, r.Body)
	e := r.Errors[0]
	require.Equal(t, code, e.Extensions["code"], "error code of %s", r.Body)
	if field != "" {
		require.Equal(t, field, e.Extensions["field"], "extensions.field of %s", r.Body)
	}
	return e
}

// rootData returns data.<field> of r as JSON text: "null" when data or the
// field is null or missing.
func rootData(t testing.TB, r *apitest.Response, field string) string {
	t.Helper()
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return "null"
	}
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Data, &m), "decode data %s", r.Data)
	v, ok := m[field]
	if !ok {
		return "null"
	}
	return string(v)
}

var uniqSeq atomic.Int64

// uniq returns prefix made unique within the test binary.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, uniqSeq.Add(1))
}

// mkBook stores a book directly, without the API.
func mkBook(t testing.TB, s *apitest.Server, title string) *ent.Book {
	t.Helper()
	b, err := s.Client.Book.Create().SetTitle(title).SetAuthor("Author").Save(context.Background())
	require.NoError(t, err, "create book")
	return b
}

// mkNote stores a note of owner directly, without the API.
func mkNote(t testing.TB, s *apitest.Server, owner uuid.UUID) *ent.Note {
	t.Helper()
	n, err := s.Client.Note.Create().SetTitle(uniq("note")).SetContent("content").SetOwnerID(owner).Save(context.Background())
	require.NoError(t, err, "create note")
	return n
}

// mkUserRow stores a user directly, with an unusable password hash (fast:
// no hashing); such a user cannot sign in.
func mkUserRow(t testing.TB, s *apitest.Server, level int) *ent.User {
	t.Helper()
	u, err := s.Client.User.Create().SetFirstName("Row").SetLastName("User").
		SetEmail(strings.ToLower(uniq("row")) + "@example.com").SetPasswordHash("!").
		SetPermissionLevel(level).Save(context.Background())
	require.NoError(t, err, "create user row")
	return u
}
