package graph_test

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// TestQueriesUseIndexes runs every operation of the API, each list in
// every direction, on HS256 and on EdDSA signing, then asks the database
// for the plan of every SQL statement the server ran: none may scan a
// table whole or sort rows that an index could give in order. Counting
// (totalCount) reads an index whole by nature and is allowed. On SQLite
// the plan is EXPLAIN QUERY PLAN's; on PostgreSQL it is EXPLAIN's generic
// plan with sequential scans and sorts disabled, so that either shows only
// where no index could serve (the tables here are too small for the
// planner to prefer an index otherwise).
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	for _, eddsa := range []bool{false, true} {
		t.Run(fmt.Sprint("eddsa=", eddsa), func(t *testing.T) {
			t.Parallel()
			c := apitest.New(t, apitest.Options{EdDSA: eddsa, Mail: true})
			exerciseAPI(t, c)

			stmts := c.Statements()
			require.Greater(t, len(stmts), 40, "statements seen: %q", stmts)
			db, explain := planner(t, c.DatabaseURL)
			defer db.Close()
			for _, q := range stmts {
				plan := explain(q)
				if bad := fullScan(plan, q); bad != "" {
					t.Errorf("%s\nneeds %q:\n%s", q, bad, plan)
				}
			}
		})
	}
}

// exerciseAPI calls every query and mutation, as a FREE user and as an
// ADMIN, pages through each list forwards and backwards, and runs the
// background work (pruning, key rotation) a server does besides.
func exerciseAPI(t *testing.T, c *apitest.Client) {
	t.Helper()
	admin := c.NewUser(t, apitest.Admin|apitest.Paid|apitest.Free)
	u := c.SignUp(t)

	// Mailed links: verify the email, reset the password (for a known
	// email, again within the mail limits, and for an unknown one), ask
	// to verify a verified email, change the email.
	c.VerifyEmail(t, c.MailedToken(t, u.Email, "verify-email"))
	c.RequestPasswordReset(t, u.Email)
	c.RequestPasswordReset(t, u.Email)
	c.RequestPasswordReset(t, apitest.Email())
	u = c.ResetPassword(t, c.MailedToken(t, u.Email, "reset-password"), apitest.Password)
	c.NextMail(t, u.Email, "password-changed")
	c.Do(t, u.Token, apitest.OpRequestEmailVerification, nil)
	newEmail := apitest.Email()
	require.True(t, apitest.Data[bool](t, c.RequestEmailChange(t, u, newEmail, apitest.Password), "requestEmailChange"))
	token := apitest.LinkToken(t, c.NextMails(t, 2)[newEmail], apitest.ConfirmEmailChangePath)
	u.User = apitest.Data[apitest.User](t, c.Do(t, "", apitest.OpConfirmEmailChange, apitest.Vars{"token": token}), "confirmEmailChange")
	for i := range 3 {
		c.Do(t, admin.Token, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": fmt.Sprint("Plan ", i), "author": "A"}})
		c.Do(t, u.Token, apitest.OpCreateNote, apitest.Vars{"in": apitest.Vars{"title": fmt.Sprint("Note ", i), "content": "c"}})
	}
	type node struct{ ID string }
	lists := []struct{ field, op, token string }{
		{"books", apitest.OpBooks, u.Token}, {"notes", apitest.OpNotes, u.Token},
		{"users", apitest.OpUsers, admin.Token}, {"auditEvents", apitest.OpAuditEvents, admin.Token},
	}
	for _, l := range lists {
		page := apitest.Data[apitest.Connection[node]](t, c.Do(t, l.token, l.op, apitest.Vars{"first": 2}), l.field)
		after, before := page.PageInfo.EndCursor, page.PageInfo.StartCursor
		for _, vars := range []apitest.Vars{
			{"first": 2, "after": after}, {"last": 2, "after": after}, {"last": 2, "before": before},
			{"first": 2, "before": before}, {"last": 2},
		} {
			apitest.Data[apitest.Connection[node]](t, c.Do(t, l.token, l.op, vars), l.field)
		}
		if l.field == "auditEvents" {
			continue // audit events have no ids
		}
		id := apitest.Vars{"id": page.Edges[0].Node.ID}
		switch l.field {
		case "books":
			c.Do(t, "", apitest.OpBook, id)
			c.Do(t, admin.Token, apitest.OpUpdateBook, apitest.Vars{"id": id["id"], "in": apitest.Vars{"title": "T"}})
			c.Do(t, admin.Token, apitest.OpDeleteBook, id)
		case "notes":
			c.Do(t, u.Token, apitest.OpNote, id)
			c.Do(t, u.Token, apitest.OpUpdateNote, apitest.Vars{"id": id["id"], "in": apitest.Vars{"title": "T"}})
			c.Do(t, u.Token, apitest.OpDeleteNote, id)
		}
	}
	c.Me(t, u.Token)
	c.Do(t, u.Token, apitest.OpUser, apitest.Vars{"id": u.ID})
	c.Do(t, admin.Token, apitest.OpUser, apitest.Vars{"id": u.ID})

	// Sessions: sign in (right, wrong, unknown, locked out), rotate, reuse
	// a spent token after the grace (revokes), list, revoke one, sign out
	// one and all.
	for range 6 {
		c.Do(t, "", apitest.OpSignIn, apitest.Credentials(admin.Email, "wrong password"))
	}
	c.Do(t, "", apitest.OpSignIn, apitest.Credentials("nobody@example.com", "wrong password"))
	in := c.SignIn(t, u.Email, apitest.Password)
	rotated := c.Refresh(t, in.RefreshToken)
	c.Clock.Advance(11 * time.Second)
	c.RequireRefreshRefused(t, in.RefreshToken)
	c.RequireEnded(t, rotated)
	other := c.SignIn(t, u.Email, apitest.Password)
	c.Sessions(t, u.Token)
	c.Do(t, admin.Token, apitest.OpUserSessions, apitest.Vars{"id": u.ID})
	c.Do(t, u.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, other)})
	c.Do(t, admin.Token, apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, c.SignIn(t, u.Email, apitest.Password))})
	c.Do(t, u.Token, apitest.OpSignOut, nil)
	second := c.SignIn(t, u.Email, apitest.Password)
	c.Do(t, second.Token, apitest.OpSignOut, apitest.Vars{"all": true})

	// Users: create, change level and password (ends sessions), change
	// one's own email, delete.
	created := apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpCreateUser, apitest.Vars{"in": apitest.Vars{
		"firstName": "P", "lastName": "Q", "email": apitest.Email(), "password": apitest.Password, "permissionLevel": 1,
	}}), "createUser")
	c.Do(t, admin.Token, apitest.OpUpdateUser, apitest.Vars{"id": created.ID, "in": apitest.Vars{"permissionLevel": 5, "password": "another password"}})
	third := c.SignIn(t, u.Email, apitest.Password)
	c.Do(t, third.Token, apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": apitest.Vars{"email": apitest.Email(), "currentPassword": apitest.Password}})
	c.Do(t, admin.Token, apitest.OpDeleteUser, apitest.Vars{"id": u.ID})

	// Background work: signing keys and pruning, a day and more later.
	c.JWKS(t)
	if c.Keys != nil {
		_, err := c.Keys.Rotate(t.Context())
		require.NoError(t, err, "rotate keys")
		_, err = c.Keys.List(t.Context())
		require.NoError(t, err, "list keys")
	}
	c.Clock.Advance(48 * time.Hour)
	c.SignIn(t, admin.Email, apitest.Password)
	_, err := c.Accounts.Prune(t.Context())
	require.NoError(t, err, "prune")
	_, err = c.Mailer.Prune(t.Context())
	require.NoError(t, err, "prune the outbox")
}

// planner opens the test database and returns a function that explains a
// statement of the server's.
func planner(t *testing.T, dbURL string) (*sql.DB, func(query string) string) {
	t.Helper()
	params := regexp.MustCompile(`\$(\d+)`)
	// numbered returns the highest $n of q (the hand-written statements'
	// placeholders; ent writes ? on SQLite).
	numbered := func(q string) int {
		n := 0
		for _, m := range params.FindAllStringSubmatch(q, -1) {
			var k int
			fmt.Sscan(m[1], &k)
			n = max(n, k)
		}
		return n
	}
	if !database.IsPostgres(dbURL) {
		db, err := sql.Open("sqlite", dbURL)
		require.NoError(t, err)
		return db, func(q string) string {
			// Unbound arguments are NULL; SQLite plans before binding.
			rows, err := db.Query("EXPLAIN QUERY PLAN "+q, make([]any, max(strings.Count(q, "?"), numbered(q)))...)
			require.NoError(t, err, "explain %s", q)
			defer rows.Close()
			var lines []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				lines = append(lines, detail)
			}
			require.NoError(t, rows.Err())
			return strings.Join(lines, "\n")
		}
	}
	db, err := sql.Open("pgx", dbURL)
	require.NoError(t, err)
	db.SetMaxOpenConns(1) // the settings below are per session
	for _, set := range []string{"enable_seqscan", "enable_sort"} {
		_, err = db.Exec("SET " + set + " = off")
		require.NoError(t, err)
	}
	_, err = db.Exec("SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	return db, func(q string) string {
		n := numbered(q)
		_, err := db.Exec("PREPARE plan_stmt AS " + q)
		require.NoError(t, err, "prepare %s", q)
		defer db.Exec("DEALLOCATE plan_stmt") //nolint:errcheck // the next PREPARE would fail loudly
		exec := "EXPLAIN EXECUTE plan_stmt"
		if n > 0 {
			exec += "(" + strings.TrimSuffix(strings.Repeat("NULL,", n), ",") + ")"
		}
		rows, err := db.Query(exec)
		require.NoError(t, err, "explain %s", q)
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			lines = append(lines, line)
		}
		require.NoError(t, rows.Err())
		return strings.Join(lines, "\n")
	}
}

// fullScan returns the step of plan that reads a table or an index whole,
// or sorts what an index could give in order, or "". Reading whole is
// allowed only for a statement without WHERE: a page of a whole list stops
// after its LIMIT, and a count (totalCount) or a load of a whole small
// table (the signing keys) reads everything by nature.
func fullScan(plan, query string) string {
	filtered := strings.Contains(query, " WHERE ")
	whole := !filtered && !strings.Contains(query, " ORDER BY ")
	lines := strings.Split(plan, "\n")
	for i, line := range lines {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
		switch {
		case strings.HasPrefix(l, "USE TEMP B-TREE FOR ORDER BY"), strings.HasPrefix(l, "Sort "):
			return l
		case strings.HasPrefix(l, "Seq Scan") && !whole:
			return l
		case strings.HasPrefix(l, "SCAN ") && filtered:
			return l // SQLite: no index narrows the rows
		case strings.Contains(l, "Index Scan") || strings.Contains(l, "Index Only Scan"):
			// PostgreSQL: an index scan reads the index whole unless an
			// Index Cond (in the lines below it, before the next step)
			// narrows it.
			cond := false
			for _, next := range lines[i+1:] {
				if strings.Contains(next, "->") {
					break
				}
				cond = cond || strings.Contains(next, "Index Cond:")
			}
			if !cond && filtered {
				return l
			}
		}
	}
	return ""
}
