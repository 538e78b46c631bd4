package graph_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// BenchmarkDeepPage measures a page of 10 from the middle of a list, over
// 1,000 and over 1,000,000 rows: a books page (and, timed a few times, the
// same with totalCount, which counts every row), and one user's notes page among
// notes of 1,000 users. The goal is that the 1,000,000-row page costs at
// most 1.5 times the 1,000-row one (without totalCount). Seeding a million
// rows takes a while, so run it on its own:
//
//	go test ./graph/ -run '^$' -bench DeepPage -benchtime 2000x
func BenchmarkDeepPage(b *testing.B) {
	const (
		booksPage      = `query($a: String) { books(first: 10, after: $a) { edges { node { id title } } } }`
		booksPageCount = `query($a: String) { books(first: 10, after: $a) { totalCount edges { node { id title } } } }`
		notesPage      = `query($a: String) { notes(first: 10, after: $a) { edges { node { id title } } } }`
	)
	for _, rows := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("books/rows=%d", rows), func(b *testing.B) {
			s, p := benchServer(b)
			seedSQL(b, s.DatabaseURL, "books", rows, "")
			vars := apitest.Vars{"a": cursorOf(b, seqID(0x8000, rows/2))}
			benchSerial(b, s, func(int64) error { return post(s, p.Token, booksPage, vars, "Book ") })
			// What the same page costs with totalCount: a few runs, timed.
			start := time.Now()
			for range 3 {
				require.NoError(b, post(s, p.Token, booksPageCount, vars, fmt.Sprintf(`"totalCount":%d`, rows)))
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/3000, "totalCount-ms")
		})
		b.Run(fmt.Sprintf("notes/rows=%d", rows), func(b *testing.B) {
			s, p := benchServer(b)
			seedSQL(b, s.DatabaseURL, "users", 1_000, "")
			seedSQL(b, s.DatabaseURL, "notes", rows, p.ID)
			// The caller owns every (rows/1000)th note: 1,000 of them.
			vars := apitest.Vars{"a": cursorOf(b, seqID(0x8000, rows/2))}
			benchSerial(b, s, func(int64) error { return post(s, p.Token, notesPage, vars, "Note ") })
		})
	}
}

// seqID is the n-th of the made-up ids of a seeded table: UUIDv7-shaped,
// in the order of n, and before every id the server makes.
func seqID(variant, n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-%04x-%012x", variant, n))
}

// cursorOf returns the opaque cursor of a row id, as the server issues it.
func cursorOf(b *testing.B, id uuid.UUID) string {
	b.Helper()
	var buf bytes.Buffer
	ent.Cursor{ID: id}.MarshalGQL(&buf)
	c, err := strconv.Unquote(buf.String())
	require.NoError(b, err)
	return c
}

// seedSQL inserts n rows into table with one SQL statement: books; users
// (who cannot sign in); or notes, every (n/1000)th of them owned by owner
// and the others spread over the seeded users.
func seedSQL(b *testing.B, dbURL, table string, n int, owner string) {
	b.Helper()
	pg := database.IsPostgres(dbURL)
	driver, series, id, userID, text := "sqlite",
		"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < %d) ",
		"printf('00000000-0000-7000-%%04x-%%012x', %d, i)", "printf('00000000-0000-7000-9000-%%012x', 1 + i %% 999)", "'%s ' || i"
	if pg {
		driver, series, id, userID = "pgx", "WITH s(i) AS (SELECT generate_series(1, %d)) ",
			"('00000000-0000-7000-' || lpad(to_hex(%d), 4, '0') || '-' || lpad(to_hex(i), 12, '0'))::uuid",
			"('00000000-0000-7000-9000-' || lpad(to_hex(1 + i %% 999), 12, '0'))::uuid"
	}
	db, err := sql.Open(driver, dbURL)
	require.NoError(b, err)
	defer db.Close()
	now := time.Now().UTC()
	var q string
	switch table {
	case "books":
		q = fmt.Sprintf(series+"INSERT INTO books (id, created_at, updated_at, title, author) SELECT "+id+", $1, $1, "+text+", 'Author' FROM s",
			n, 0x8000, "Book")
	case "users":
		q = fmt.Sprintf(series+"INSERT INTO users (id, created_at, updated_at, first_name, last_name, email, password_hash, permission_level) SELECT "+
			id+", $1, $1, 'Seed', 'User', 'seed-' || i || '@example.com', 'none', 1 FROM s", n, 0x9000)
	case "notes":
		every := max(1, n/1000)
		q = fmt.Sprintf(series+"INSERT INTO notes (id, created_at, updated_at, title, content, owner_id) SELECT "+id+", $1, $1, "+text+
			", 'content', CASE WHEN i %% %d = 0 THEN '%s' ELSE "+userID+" END FROM s", n, 0x8000, "Note", every, owner)
	}
	if !pg {
		q = replaceDollar(q)
	}
	_, err = db.Exec(q, now)
	require.NoError(b, err, "seed %d %s: %s", n, table, q)
}

// replaceDollar turns the one $1 placeholder into SQLite's ?1.
func replaceDollar(q string) string {
	return string(bytes.ReplaceAll([]byte(q), []byte("$1"), []byte("?1")))
}
