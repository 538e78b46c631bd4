package graph_test

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// TestQueriesUseIndexes runs every operation of the API, each list in
// every direction, then asks the database for the plan of every SQL
// statement the server ran: none may scan a table whole or sort rows that
// an index could give in order. Counting (totalCount) reads an index whole
// by nature and is allowed. On SQLite the plan is EXPLAIN QUERY PLAN's; on
// PostgreSQL it is EXPLAIN's generic plan with sequential scans and sorts
// disabled, so that either shows only where no index could serve (the
// tables here are too small for the planner to prefer an index otherwise).
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{ReuseGrace: time.Nanosecond})
	exerciseAPI(t, s)

	stmts := s.Statements()
	require.Greater(t, len(stmts), 30, "statements seen: %q", stmts)
	db, explain := planner(t, s.DBURL)
	defer db.Close()
	for _, q := range stmts {
		plan := explain(q)
		if bad := fullScan(plan, q); bad != "" {
			t.Errorf("%s\nneeds %q:\n%s", q, bad, plan)
		}
	}
}

// exerciseAPI calls every query and mutation, as a FREE user and as an
// ADMIN, and pages through each list forwards and backwards.
func exerciseAPI(t *testing.T, s *apitest.Server) {
	t.Helper()
	admin := s.User(t, "plan-admin@example.com", account.PermAdmin|account.PermFree|account.PermPaid)
	u := s.Signup(t, "plan-user@example.com")
	do := func(token, query string, vars map[string]any) map[string]any {
		t.Helper()
		var out map[string]any
		s.Query(t, token, query, vars).Decode(t, &out)
		return out
	}
	for i := range 3 {
		do(admin.AccessToken, `mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": fmt.Sprint("Plan ", i), "author": "A"}})
		do(u.AccessToken, `mutation($in: CreateNoteInput!) { createNote(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": fmt.Sprint("Note ", i), "content": "c"}})
	}
	lists := map[string]string{"books": u.AccessToken, "notes": u.AccessToken, "users": admin.AccessToken, "auditEvents": admin.AccessToken}
	for list, token := range lists {
		page := do(token, fmt.Sprintf(`{ %s(first: 2) { totalCount edges { node { id } } pageInfo { endCursor startCursor } } }`, list), nil)
		info := page[list].(map[string]any)["pageInfo"].(map[string]any)
		edges := page[list].(map[string]any)["edges"].([]any)
		id := edges[0].(map[string]any)["node"].(map[string]any)["id"]
		vars := map[string]any{"a": info["endCursor"], "b": info["startCursor"]}
		do(token, fmt.Sprintf(`query($a: String) { %s(first: 2, after: $a) { edges { node { id } } } }`, list), vars)
		do(token, fmt.Sprintf(`query($a: String) { %s(last: 2, after: $a) { edges { node { id } } } }`, list), vars)
		do(token, fmt.Sprintf(`query($b: String) { %s(last: 2, before: $b) { edges { node { id } } } }`, list), vars)
		do(token, fmt.Sprintf(`query($b: String) { %s(first: 2, before: $b) { edges { node { id } } } }`, list), vars)
		do(token, fmt.Sprintf(`{ %s(last: 2) { edges { node { id } } } }`, list), nil)
		switch list {
		case "books":
			do("", `query($id: ID!) { book(id: $id) { id } }`, map[string]any{"id": id})
			do(admin.AccessToken, `mutation($id: ID!) { updateBook(id: $id, input: {title: "T"}) { id } }`, map[string]any{"id": id})
			do(admin.AccessToken, `mutation($id: ID!) { deleteBook(id: $id) }`, map[string]any{"id": id})
		case "notes":
			do(token, `query($id: ID!) { note(id: $id) { id owner { email } } }`, map[string]any{"id": id})
			do(token, `{ notes(first: 5) { edges { node { owner { email } } } } }`, nil)
			do(token, `mutation($id: ID!) { updateNote(id: $id, input: {title: "T"}) { id } }`, map[string]any{"id": id})
			do(token, `mutation($id: ID!) { deleteNote(id: $id) }`, map[string]any{"id": id})
		}
	}
	do(u.AccessToken, `{ me { id } }`, nil)
	do(u.AccessToken, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": u.User.ID})
	do(admin.AccessToken, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": u.User.ID})

	// Sessions: sign in (right, wrong, unknown), rotate, reuse a spent
	// token after the grace (revokes), sign out one and all.
	signin := `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { refreshToken accessToken } }`
	s.Query(t, "", signin, map[string]any{"e": u.User.Email, "p": "wrong password"})
	s.Query(t, "", signin, map[string]any{"e": "nobody@example.com", "p": "wrong password"})
	in := do("", signin, map[string]any{"e": u.User.Email, "p": apitest.Password})["signin"].(map[string]any)
	refresh := `mutation($t: String!) { refresh(refreshToken: $t) { refreshToken accessToken } }`
	rotated := do("", refresh, map[string]any{"t": in["refreshToken"]})["refresh"].(map[string]any)
	s.Query(t, "", refresh, map[string]any{"t": in["refreshToken"]})
	do(u.AccessToken, `mutation { signout }`, nil)
	s.Query(t, rotated["accessToken"].(string), `{ me { id } }`, nil) // revoked: refused after the lookup
	second := s.Signin(t, u.User.Email, apitest.Password)
	do(second.AccessToken, `mutation { signout(allSessions: true) }`, nil)

	// Users: create, change level and password (ends sessions), delete.
	created := do(admin.AccessToken, `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"firstName": "P", "lastName": "Q", "email": "plan-created@example.com", "password": apitest.Password, "permissionLevel": 1,
	}})["createUser"].(map[string]any)["id"]
	do(admin.AccessToken, `mutation($id: ID!) { updateUser(id: $id, input: {permissionLevel: 5, password: "another password"}) { id } }`,
		map[string]any{"id": created})
	third := s.Signin(t, u.User.Email, apitest.Password)
	do(third.AccessToken, `mutation($id: ID!) { updateUser(id: $id, input: {email: "plan-user2@example.com", currentPassword: "`+apitest.Password+`"}) { id } }`,
		map[string]any{"id": u.User.ID})
	do(admin.AccessToken, `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": u.User.ID})
}

// planner opens the test database and returns a function that explains a
// statement of the server's.
func planner(t *testing.T, dbURL string) (*sql.DB, func(query string) string) {
	t.Helper()
	if !database.IsPostgres(dbURL) {
		db, err := sql.Open("sqlite", dbURL)
		require.NoError(t, err)
		return db, func(q string) string {
			// Unbound arguments are NULL; SQLite plans before binding.
			rows, err := db.Query("EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
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
	params := regexp.MustCompile(`\$(\d+)`)
	return db, func(q string) string {
		n := 0
		for _, m := range params.FindAllStringSubmatch(q, -1) {
			var k int
			fmt.Sscan(m[1], &k)
			n = max(n, k)
		}
		_, err := db.Exec("PREPARE plan_stmt AS " + q)
		require.NoError(t, err, "prepare %s", q)
		defer db.Exec("DEALLOCATE plan_stmt") //nolint:errcheck // the next PREPARE would fail loudly
		nulls := strings.TrimSuffix(strings.Repeat("NULL,", n), ",")
		exec := "EXPLAIN EXECUTE plan_stmt"
		if n > 0 {
			exec += "(" + nulls + ")"
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
// after its LIMIT, and a count (totalCount) reads everything by nature.
func fullScan(plan, query string) string {
	filtered := strings.Contains(query, " WHERE ")
	lines := strings.Split(plan, "\n")
	for i, line := range lines {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
		switch {
		case strings.HasPrefix(l, "USE TEMP B-TREE FOR ORDER BY"), strings.HasPrefix(l, "Sort "):
			return l
		case strings.HasPrefix(l, "Seq Scan"):
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
