package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent/book"
	"bitgate/ent/note"
	"bitgate/ent/session"
	"bitgate/ent/user"
	"bitgate/internal/apitest"
	"bitgate/internal/auth/authtest"
)

// TestPermissionMatrix calls every root field of the contract as every kind
// of caller and holds the answer to the contract: a field marked
// @hasPermission resolves iff level & (bit|ADMIN) != 0; no caller is
// UNAUTHENTICATED, a caller without the bit FORBIDDEN, and a refused
// mutation changes nothing.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()

	// Who may call a root field: anyone, any signed-in user, or a bit.
	const (
		anyone   = -1
		signedIn = 0
	)
	type caller struct {
		name  string
		level int
		apitest.AuthPayload
	}
	callers := []caller{{name: "anonymous"}}
	for _, k := range []struct {
		name  string
		level int
	}{
		{"level0", 0}, {"FREE", apitest.Free}, {"PAID", apitest.Paid}, {"FREE|PAID", apitest.Free | apitest.Paid}, {"ADMIN", apitest.Admin},
	} {
		callers = append(callers, caller{name: k.name, level: k.level, AuthPayload: c.NewUser(t, k.level)})
	}
	anonymous := func(k caller) bool { return k.Token == "" }
	// own is k's own id, or a random one for an anonymous caller.
	own := func(k caller) string {
		if anonymous(k) {
			return uuid.NewString()
		}
		return k.ID
	}
	// ownNote is a note of k, or a random id for an anonymous caller.
	ownNote := func(t *testing.T, k caller) string {
		if anonymous(k) {
			return uuid.NewString()
		}
		return c.StoreNote(t, k.ID).ID.String()
	}
	exists := func(t *testing.T, q interface {
		Exist(context.Context) (bool, error)
	}) bool {
		t.Helper()
		ok, err := q.Exist(ctx)
		require.NoError(t, err)
		return ok
	}

	// call is one request of the matrix, with a check of its side effect
	// (done tells whether the call was allowed).
	type call struct {
		token string // the caller's token if empty
		query string
		vars  apitest.Vars
		check func(t *testing.T, done bool)
	}
	cases := []struct {
		field string
		need  int
		call  func(t *testing.T, k caller) call
	}{
		{"me", signedIn, func(t *testing.T, k caller) call { return call{query: apitest.OpMe} }},
		{"user", signedIn, func(t *testing.T, k caller) call {
			return call{query: apitest.OpUser, vars: apitest.Vars{"id": own(k)}}
		}},
		{"users", apitest.Paid, func(t *testing.T, k caller) call { return call{query: apitest.OpUsers} }},
		{"books", apitest.Free, func(t *testing.T, k caller) call { return call{query: apitest.OpBooks} }},
		{"book", anyone, func(t *testing.T, k caller) call {
			return call{query: apitest.OpBook, vars: apitest.Vars{"id": c.StoreBook(t, apitest.Unique("b")).ID}}
		}},
		{"notes", apitest.Free, func(t *testing.T, k caller) call { return call{query: apitest.OpNotes} }},
		{"note", apitest.Free, func(t *testing.T, k caller) call {
			return call{query: apitest.OpNote, vars: apitest.Vars{"id": ownNote(t, k)}}
		}},
		{"signout", signedIn, func(t *testing.T, k caller) call {
			// A fresh session, so that the caller's main token survives.
			var fresh apitest.AuthPayload
			if !anonymous(k) {
				fresh = c.SignIn(t, k.Email, apitest.Password)
			}
			return call{token: fresh.Token, query: apitest.OpSignOut, check: func(t *testing.T, done bool) {
				if anonymous(k) {
					return
				}
				r := c.Do(t, fresh.Token, apitest.OpMe, nil)
				if done {
					apitest.RequireCode(t, r, "UNAUTHENTICATED")
				} else {
					require.Empty(t, r.Errors, "refused signout ended the session: %s", r.Body)
				}
				c.Me(t, k.Token) // signout of one session leaves the others
			}}
		}},
		{"createUser", apitest.Admin, func(t *testing.T, k caller) call {
			email := apitest.Email()
			in := apitest.SignUpInput(email)
			in["permissionLevel"] = apitest.Admin
			return call{query: apitest.OpCreateUser, vars: apitest.Vars{"in": in}, check: func(t *testing.T, done bool) {
				require.Equal(t, done, exists(t, c.DB.User.Query().Where(user.Email(email))), "user %s exists", email)
			}}
		}},
		{"updateUser", signedIn, func(t *testing.T, k caller) call {
			name := apitest.Unique("Renamed")
			return call{query: apitest.OpUpdateUser, vars: apitest.Vars{"id": own(k), "in": apitest.Vars{"firstName": name}},
				check: func(t *testing.T, done bool) {
					require.Equal(t, done, exists(t, c.DB.User.Query().Where(user.FirstName(name))), "firstName set to %s", name)
				}}
		}},
		{"deleteUser", apitest.Admin, func(t *testing.T, k caller) call {
			victim := c.StoreUser(t, apitest.Free)
			return call{query: apitest.OpDeleteUser, vars: apitest.Vars{"id": victim.ID}, check: func(t *testing.T, done bool) {
				require.Equal(t, !done, exists(t, c.DB.User.Query().Where(user.ID(victim.ID))), "victim still exists")
			}}
		}},
		{"createBook", apitest.Admin, func(t *testing.T, k caller) call {
			title := apitest.Unique("created")
			return call{query: apitest.OpCreateBook, vars: apitest.Vars{"in": apitest.Vars{"title": title, "author": "A"}},
				check: func(t *testing.T, done bool) {
					require.Equal(t, done, exists(t, c.DB.Book.Query().Where(book.Title(title))), "book %s exists", title)
				}}
		}},
		{"updateBook", apitest.Admin, func(t *testing.T, k caller) call {
			b := c.StoreBook(t, apitest.Unique("before"))
			return call{query: apitest.OpUpdateBook, vars: apitest.Vars{"id": b.ID, "in": apitest.Vars{"title": "after"}},
				check: func(t *testing.T, done bool) {
					got := c.DB.Book.GetX(ctx, b.ID)
					require.Equal(t, done, got.Title == "after", "title is %q", got.Title)
				}}
		}},
		{"deleteBook", apitest.Admin, func(t *testing.T, k caller) call {
			b := c.StoreBook(t, apitest.Unique("doomed"))
			return call{query: apitest.OpDeleteBook, vars: apitest.Vars{"id": b.ID}, check: func(t *testing.T, done bool) {
				require.Equal(t, !done, exists(t, c.DB.Book.Query().Where(book.ID(b.ID))), "book still exists")
			}}
		}},
		{"createNote", apitest.Free, func(t *testing.T, k caller) call {
			title := apitest.Unique("note")
			return call{query: apitest.OpCreateNote, vars: apitest.Vars{"in": apitest.Vars{"title": title, "content": "c"}},
				check: func(t *testing.T, done bool) {
					require.Equal(t, done, exists(t, c.DB.Note.Query().Where(note.Title(title))), "note %s exists", title)
				}}
		}},
		// updateNote and deleteNote carry no @hasPermission: the owner may.
		{"updateNote", signedIn, func(t *testing.T, k caller) call {
			id := ownNote(t, k)
			return call{query: apitest.OpUpdateNote, vars: apitest.Vars{"id": id, "in": apitest.Vars{"title": "changed"}},
				check: func(t *testing.T, done bool) {
					if !anonymous(k) {
						got := c.DB.Note.GetX(ctx, uuid.MustParse(id))
						require.Equal(t, done, got.Title == "changed", "title is %q", got.Title)
					}
				}}
		}},
		{"deleteNote", signedIn, func(t *testing.T, k caller) call {
			id := ownNote(t, k)
			return call{query: apitest.OpDeleteNote, vars: apitest.Vars{"id": id}, check: func(t *testing.T, done bool) {
				if !anonymous(k) {
					require.Equal(t, !done, exists(t, c.DB.Note.Query().Where(note.ID(uuid.MustParse(id)))), "note still exists")
				}
			}}
		}},
	}

	for _, tc := range cases {
		for _, k := range callers {
			t.Run(tc.field+"/"+k.name, func(t *testing.T) {
				call := tc.call(t, k)
				token := k.Token
				if call.token != "" {
					token = call.token
				}
				r := c.Do(t, token, call.query, call.vars)
				want := ""
				switch {
				case tc.need == anyone:
				case anonymous(k):
					want = "UNAUTHENTICATED"
				case tc.need != signedIn && k.level&(tc.need|apitest.Admin) == 0:
					want = "FORBIDDEN"
				}
				if want == "" {
					require.Empty(t, r.Errors, "%s as %s (level %d) must be allowed: %s", tc.field, k.name, k.level, r.Body)
					require.NotNil(t, apitest.Data[any](t, r, tc.field), "%s as %s: no data: %s", tc.field, k.name, r.Body)
				} else {
					e := apitest.RequireCode(t, r, want)
					require.Equal(t, []any{tc.field}, e.Path, "error path of %s", r.Body)
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
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	alice := c.NewUser(t, apitest.Free)
	bob := c.NewUser(t, apitest.Free|apitest.Paid)

	for _, tc := range []struct {
		name  string
		token string
		id    string
		want  string // the email answered, "" for null
		code  string // the error code, "" for none
	}{
		{"self", alice.Token, alice.ID, alice.Email, ""},
		{"paid self", bob.Token, bob.ID, bob.Email, ""},
		{"other", alice.Token, bob.ID, "", "FORBIDDEN"},
		{"paid other", bob.Token, alice.ID, "", "FORBIDDEN"},
		{"non-admin missing id", alice.Token, uuid.NewString(), "", "FORBIDDEN"},
		{"admin other", admin.Token, bob.ID, bob.Email, ""},
		{"admin self", admin.Token, admin.ID, admin.Email, ""},
		{"admin missing id", admin.Token, uuid.NewString(), "", ""},
		{"anonymous", "", alice.ID, "", "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Do(t, tc.token, apitest.OpUser, apitest.Vars{"id": tc.id})
			if tc.code != "" {
				apitest.RequireCode(t, r, tc.code)
				return
			}
			got := apitest.Data[*apitest.User](t, r, "user")
			if tc.want == "" {
				require.Nil(t, got, "user(%s) = %s, want null", tc.id, r.Body)
				return
			}
			require.NotNil(t, got, "user(%s) = null", tc.id)
			require.Equal(t, tc.id, got.ID)
			require.Equal(t, tc.want, got.Email)
		})
	}
}

// TestUpdateUserRules tries every way the contract forbids to change a user,
// and checks that each refused update changed nothing.
func TestUpdateUserRules(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	alice := c.NewUser(t, apitest.Free)
	bob := c.NewUser(t, apitest.Free)
	carol := c.NewUser(t, apitest.Free)
	dave := c.NewUser(t, apitest.Free)
	update := func(t *testing.T, token, id string, in apitest.Vars) *apitest.Response {
		t.Helper()
		return c.Do(t, token, apitest.OpUpdateUser, apitest.Vars{"id": id, "in": in})
	}
	// takenEmail is bob's email in another case, with blanks around it.
	takenEmail := "  " + strings.ToUpper(bob.Email[:1]) + bob.Email[1:] + " "

	refused := []struct {
		name  string
		token string
		id    string
		in    apitest.Vars
		code  string
		field string
	}{
		{"non-admin updates another user", alice.Token, bob.ID, apitest.Vars{"firstName": "Hacked"}, "FORBIDDEN", ""},
		{"non-admin updates another user's email", alice.Token, bob.ID, apitest.Vars{"email": "x@example.com"}, "FORBIDDEN", ""},
		{"non-admin sets own level to the same value", alice.Token, alice.ID, apitest.Vars{"permissionLevel": apitest.Free}, "FORBIDDEN", ""},
		{"non-admin promotes self", alice.Token, alice.ID, apitest.Vars{"permissionLevel": apitest.Admin | apitest.Free}, "FORBIDDEN", ""},
		{"non-admin promotes self with other fields", alice.Token, alice.ID, apitest.Vars{"firstName": "Sneaky", "permissionLevel": apitest.Admin}, "FORBIDDEN", ""},
		{"non-admin sets another's level", alice.Token, bob.ID, apitest.Vars{"permissionLevel": apitest.Admin}, "FORBIDDEN", ""},
		{"admin sets own level", admin.Token, admin.ID, apitest.Vars{"permissionLevel": apitest.Admin | apitest.Free | apitest.Paid}, "FORBIDDEN", ""},
		{"admin demotes self", admin.Token, admin.ID, apitest.Vars{"permissionLevel": apitest.Free}, "FORBIDDEN", ""},
		{"admin sets own level to the same value", admin.Token, admin.ID, apitest.Vars{"permissionLevel": apitest.Admin}, "FORBIDDEN", ""},
		{"unknown bit 8", admin.Token, carol.ID, apitest.Vars{"permissionLevel": 8}, "BAD_USER_INPUT", "permissionLevel"},
		{"unknown bit 2", admin.Token, carol.ID, apitest.Vars{"permissionLevel": 2}, "BAD_USER_INPUT", "permissionLevel"},
		{"unknown bit 4096", admin.Token, carol.ID, apitest.Vars{"permissionLevel": 4096}, "BAD_USER_INPUT", "permissionLevel"},
		{"known and unknown bits", admin.Token, carol.ID, apitest.Vars{"permissionLevel": apitest.Admin | 8}, "BAD_USER_INPUT", "permissionLevel"},
		{"negative level", admin.Token, carol.ID, apitest.Vars{"permissionLevel": -1}, "BAD_USER_INPUT", "permissionLevel"},
		{"self email without currentPassword", alice.Token, alice.ID, apitest.Vars{"email": "new-alice@example.com"}, "BAD_USER_INPUT", "currentPassword"},
		{"self email with empty currentPassword", alice.Token, alice.ID, apitest.Vars{"email": "new-alice@example.com", "currentPassword": ""}, "BAD_USER_INPUT", "currentPassword"},
		{"self email and name without currentPassword", alice.Token, alice.ID, apitest.Vars{"firstName": "Partial", "email": "new-alice@example.com"}, "BAD_USER_INPUT", "currentPassword"},
		{"self password without currentPassword", alice.Token, alice.ID, apitest.Vars{"password": "another long password"}, "BAD_USER_INPUT", "currentPassword"},
		{"self email with wrong currentPassword", alice.Token, alice.ID, apitest.Vars{"email": "new-alice@example.com", "currentPassword": "wrong password!"}, "UNAUTHENTICATED", ""},
		{"self email to a taken email (case variant)", alice.Token, alice.ID, apitest.Vars{"email": takenEmail, "currentPassword": apitest.Password}, "CONFLICT", ""},
		{"admin sets a taken email (case variant)", admin.Token, dave.ID, apitest.Vars{"email": strings.ToUpper(bob.Email)}, "CONFLICT", ""},
		{"admin updates a missing user", admin.Token, uuid.NewString(), apitest.Vars{"firstName": "Ghost"}, "NOT_FOUND", ""},
		{"non-admin updates a missing user", alice.Token, uuid.NewString(), apitest.Vars{"firstName": "Ghost"}, "FORBIDDEN", ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.DB.User.Get(ctx, uuid.MustParse(tc.id))
			apitest.RequireCode(t, update(t, tc.token, tc.id, tc.in), tc.code, tc.field)
			if before == nil {
				return
			}
			after := c.DB.User.GetX(ctx, before.ID)
			require.Equal(t, before.FirstName, after.FirstName, "firstName changed")
			require.Equal(t, before.Email, after.Email, "email changed")
			require.Equal(t, before.PasswordHash, after.PasswordHash, "password changed")
			require.Equal(t, before.PermissionLevel, after.PermissionLevel, "permissionLevel changed")
			require.Equal(t, before.UpdatedAt, after.UpdatedAt, "updatedAt changed")
		})
	}

	t.Run("admin changes another's level, effective with their old token", func(t *testing.T) {
		apitest.Data[any](t, c.Do(t, carol.Token, apitest.OpBooks, nil), "books")
		apitest.RequireCode(t, c.Do(t, carol.Token, apitest.OpUsers, nil), "FORBIDDEN")

		got := apitest.Data[apitest.User](t, update(t, admin.Token, carol.ID, apitest.Vars{"permissionLevel": apitest.Paid}), "updateUser")
		require.Equal(t, apitest.Paid, got.PermissionLevel)
		require.Equal(t, []string{"PAID"}, got.Permissions)

		apitest.RequireCode(t, c.Do(t, carol.Token, apitest.OpBooks, nil), "FORBIDDEN")
		apitest.Data[any](t, c.Do(t, carol.Token, apitest.OpUsers, nil), "users")
		me := c.Me(t, carol.Token)
		require.Equal(t, apitest.Paid, me.PermissionLevel)
		require.Equal(t, []string{"PAID"}, me.Permissions)

		apitest.Data[any](t, update(t, admin.Token, carol.ID, apitest.Vars{"permissionLevel": 0}), "updateUser")
		apitest.RequireCode(t, c.Do(t, carol.Token, apitest.OpUsers, nil), "FORBIDDEN")
		apitest.RequireCode(t, c.Do(t, carol.Token, apitest.OpNotes, nil), "FORBIDDEN")

		got = apitest.Data[apitest.User](t, update(t, admin.Token, carol.ID, apitest.Vars{"permissionLevel": apitest.Admin}), "updateUser")
		require.Equal(t, []string{"ADMIN"}, got.Permissions)
		apitest.Data[any](t, c.Do(t, carol.Token, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "by carol", "author": "C"}}), "createBook")
	})

	t.Run("admin changes another's email without currentPassword", func(t *testing.T) {
		got := apitest.Data[apitest.User](t, update(t, admin.Token, dave.ID, apitest.Vars{"email": "  Dave.New@Example.COM "}), "updateUser")
		require.Equal(t, "dave.new@example.com", got.Email)
		require.Equal(t, "dave.new@example.com", c.DB.User.GetX(ctx, uuid.MustParse(dave.ID)).Email)
	})

	t.Run("self email change with currentPassword", func(t *testing.T) {
		got := apitest.Data[apitest.User](t, update(t, bob.Token, bob.ID, apitest.Vars{
			"email": "Bob.Renamed@Example.com", "currentPassword": apitest.Password,
		}), "updateUser")
		require.Equal(t, "bob.renamed@example.com", got.Email)
		require.Equal(t, apitest.Free, got.PermissionLevel)
	})
}

// TestLevelIsReadAtEachRequest changes a user's level in the database under
// a token that claims another: every check uses the level as stored now,
// and deleting the user ends their tokens.
func TestLevelIsReadAtEachRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := apitest.New(t)
	u := c.SignUp(t)
	uid := uuid.MustParse(u.ID)

	apitest.Data[any](t, c.Do(t, u.Token, apitest.OpBooks, nil), "books")
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpUsers, nil), "FORBIDDEN")

	require.NoError(t, c.DB.User.UpdateOneID(uid).SetPermissionLevel(0).Exec(ctx))
	require.Equal(t, 1, authtest.ClaimsOf(t, u.Token).Perm, "the token still claims FREE")
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpBooks, nil), "FORBIDDEN")
	require.Equal(t, 0, c.Me(t, u.Token).PermissionLevel, "me shows the level as stored now")

	require.NoError(t, c.DB.User.UpdateOneID(uid).SetPermissionLevel(apitest.Free|apitest.Paid).Exec(ctx))
	apitest.Data[any](t, c.Do(t, u.Token, apitest.OpBooks, nil), "books")
	users := apitest.Data[apitest.Connection[apitest.User]](t, c.Do(t, u.Token, apitest.OpUsers, nil), "users")
	require.Equal(t, 1, users.TotalCount)

	admin := c.NewUser(t, apitest.Admin)
	require.True(t, apitest.Data[bool](t, c.Do(t, admin.Token, apitest.OpDeleteUser, apitest.Vars{"id": u.ID}), "deleteUser"))
	c.RequireEnded(t, u)
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpBooks, nil), "UNAUTHENTICATED")
}

// TestDeleteUser checks deleteUser: not oneself, and a deleted user's
// notes and sessions go with them, so that their token stops working.
func TestDeleteUser(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	victim := c.NewUser(t, apitest.Free)
	bystander := c.NewUser(t, apitest.Free)
	victimID := uuid.MustParse(victim.ID)

	for i := range 3 {
		apitest.Data[apitest.Note](t, c.Do(t, victim.Token, apitest.OpCreateNote,
			apitest.Vars{"in": apitest.Vars{"title": fmt.Sprint("v", i), "content": "secret"}}), "createNote")
	}
	kept := c.StoreNote(t, bystander.ID)
	require.Equal(t, 3, c.DB.Note.Query().Where(note.OwnerID(victimID)).CountX(ctx))
	require.Positive(t, c.DB.Session.Query().Where(session.UserID(victimID)).CountX(ctx))
	deleteUser := func(t *testing.T, token, id string) *apitest.Response {
		return c.Do(t, token, apitest.OpDeleteUser, apitest.Vars{"id": id})
	}

	t.Run("admin deletes themself", func(t *testing.T) {
		apitest.RequireCode(t, deleteUser(t, admin.Token, admin.ID), "FORBIDDEN")
		require.True(t, c.DB.User.Query().Where(user.ID(uuid.MustParse(admin.ID))).ExistX(ctx), "admin was deleted")
		c.Me(t, admin.Token)
	})

	t.Run("non-admin deletes another", func(t *testing.T) {
		apitest.RequireCode(t, deleteUser(t, bystander.Token, victim.ID), "FORBIDDEN")
		require.True(t, c.DB.User.Query().Where(user.ID(victimID)).ExistX(ctx))
	})

	t.Run("admin deletes another", func(t *testing.T) {
		require.True(t, apitest.Data[bool](t, deleteUser(t, admin.Token, victim.ID), "deleteUser"))

		require.False(t, c.DB.User.Query().Where(user.ID(victimID)).ExistX(ctx), "user row remains")
		require.Zero(t, c.DB.Note.Query().Where(note.OwnerID(victimID)).CountX(ctx), "deleted user's notes remain")
		require.Zero(t, c.DB.Session.Query().Where(session.UserID(victimID)).CountX(ctx), "deleted user's sessions remain")
		require.True(t, c.DB.Note.Query().Where(note.ID(kept.ID)).ExistX(ctx), "another user's note was deleted")

		c.RequireEnded(t, victim)
		apitest.RequireCode(t, c.Do(t, victim.Token, apitest.OpNotes, nil), "UNAUTHENTICATED")
		notes := apitest.Data[apitest.Connection[apitest.Note]](t, c.Do(t, bystander.Token, apitest.OpNotes, nil), "notes")
		require.Equal(t, 1, notes.TotalCount)
	})

	t.Run("deleted user again", func(t *testing.T) {
		apitest.RequireCode(t, deleteUser(t, admin.Token, victim.ID), "NOT_FOUND")
	})

	t.Run("missing id", func(t *testing.T) {
		apitest.RequireCode(t, deleteUser(t, admin.Token, uuid.NewString()), "NOT_FOUND")
	})
}

// TestCreateUserByAdmin checks createUser: any level, decoded permissions,
// emails normalised and unique, unknown bits refused.
func TestCreateUserByAdmin(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	admin := c.NewUser(t, apitest.Admin)
	create := func(t *testing.T, email string, level any) *apitest.Response {
		in := apitest.SignUpInput(email)
		if level != nil {
			in["permissionLevel"] = level
		}
		return c.Do(t, admin.Token, apitest.OpCreateUser, apitest.Vars{"in": in})
	}

	for _, tc := range []struct {
		name  string
		email string
		level any
		want  []string
	}{
		{"PAID only", "cu-paid@example.com", apitest.Paid, []string{"PAID"}},
		{"default FREE", "cu-free@example.com", nil, []string{"FREE"}},
		{"no bits", "cu-none@example.com", 0, []string{}},
		{"every bit", "cu-all@example.com", apitest.Free | apitest.Paid | apitest.Admin, []string{"FREE", "PAID", "ADMIN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apitest.Data[apitest.User](t, create(t, tc.email, tc.level), "createUser")
			require.Equal(t, tc.want, got.Permissions)
			require.Equal(t, tc.email, got.Email)
			require.Equal(t, got.PermissionLevel, c.DB.User.GetX(ctx, uuid.MustParse(got.ID)).PermissionLevel)
		})
	}

	t.Run("PAID user signs in with PAID rights", func(t *testing.T) {
		u := c.SignIn(t, "cu-paid@example.com", apitest.Password)
		require.Equal(t, []string{"PAID"}, u.Permissions)
		apitest.Data[any](t, c.Do(t, u.Token, apitest.OpUsers, nil), "users")
		apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpBooks, nil), "FORBIDDEN")
	})

	for _, tc := range []struct {
		name  string
		email string
		level any
		code  string
		field string
	}{
		{"duplicate email", "cu-paid@example.com", nil, "CONFLICT", ""},
		{"duplicate email, case and space variant", "  CU-Paid@EXAMPLE.com ", nil, "CONFLICT", ""},
		{"duplicate of the admin", strings.ToUpper(admin.Email), apitest.Admin, "CONFLICT", ""},
		{"unknown bit", "cu-eight@example.com", 8, "BAD_USER_INPUT", "permissionLevel"},
		{"negative level", "cu-neg@example.com", -2048, "BAD_USER_INPUT", "permissionLevel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.DB.User.Query().CountX(ctx)
			apitest.RequireCode(t, create(t, tc.email, tc.level), tc.code, tc.field)
			require.Equal(t, before, c.DB.User.Query().CountX(ctx), "a user was created")
		})
	}
}

// TestUsersWithTheirSessions lists a page of users with their sessions as
// an ADMIN, through users and through nodes: the sessions of the whole page
// are read in one statement, not one per user, and each user's are their
// own live ones, most recently used first.
func TestUsersWithTheirSessions(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	want := map[string][]string{admin.ID: {apitest.SessionID(t, admin)}}
	var ids []string
	for i := range 30 {
		u := c.StoreUser(t, apitest.Free).ID.String()
		older := c.StoreSession(t, u, c.Clock.Now().Add(-time.Duration(i+2)*time.Minute))
		newer := c.StoreSession(t, u, c.Clock.Now().Add(-time.Minute))
		ended := c.StoreSession(t, u, c.Clock.Now())
		_, err := c.DB.Session.UpdateOneID(uuid.MustParse(ended)).SetRevokedAt(c.Clock.Now()).Save(context.Background())
		require.NoError(t, err)
		want[u] = []string{newer, older}
		ids = append(ids, u)
	}
	type withSessions struct {
		ID       string
		Sessions []apitest.Session
	}
	check := func(t *testing.T, users []withSessions) {
		t.Helper()
		got := map[string][]string{}
		for _, u := range users {
			got[u.ID] = []string{}
			for _, s := range u.Sessions {
				got[u.ID] = append(got[u.ID], s.ID)
			}
		}
		require.Equal(t, want, got)
	}

	t.Run("users", func(t *testing.T) {
		before := c.SQLCount()
		r := c.Do(t, admin.Token, apitest.OpUsersSessions, apitest.Vars{"first": 100})
		require.LessOrEqual(t, c.SQLCount()-before, int64(4), "statements for a page of %d users", len(want))
		check(t, apitest.Data[apitest.Connection[withSessions]](t, r, "users").Nodes())
	})
	t.Run("nodes", func(t *testing.T) {
		before := c.SQLCount()
		r := c.Do(t, admin.Token, apitest.OpNodesSessions, apitest.Vars{"ids": append(ids, admin.ID)})
		require.LessOrEqual(t, c.SQLCount()-before, int64(1+4+1), "statements for %d users", len(want))
		check(t, apitest.Data[[]withSessions](t, r, "nodes"))
	})
}
