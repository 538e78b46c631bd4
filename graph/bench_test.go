package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// The benchmarks run the real handler over SQLite on an httptest server, so
// each operation includes a loopback HTTP round trip and the client's JSON
// encoding and decoding; allocs/op counts client and server together. They
// also report sql/op, the SQL statements the server ran per operation.
//
//	go test ./graph/ -run '^$' -bench . -benchtime 200x

const (
	benchMeQuery    = `{ me { id email permissions } }`
	benchBooksQuery = `{ books(first: 100) { totalCount
		edges { cursor node { id createdAt updatedAt title author isbn publishedYear } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	benchNotesQuery   = `{ notes(first: 50) { edges { node { title owner { email } } } } }`
	benchSigninMut    = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken refreshToken } }`
	benchRefreshMut   = `mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }`
	benchBooks        = 100
	benchNotes        = 50
	benchUserEmail    = "bench@example.com"
	benchOwnerEmailIn = `"email":"` + benchUserEmail + `"`
)

// benchServer starts a test server with one FREE user signed up through the
// API, and returns it with the user's token pair.
func benchServer(b *testing.B) (*apitest.Client, apitest.Session) {
	b.Helper()
	s := apitest.New(b)
	return s, s.SignUpAs(b, benchUserEmail)
}

// benchQuery runs query once through s.Do and fails the benchmark on any
// GraphQL error.
func benchQuery(b *testing.B, s *apitest.Client, token, query string, vars map[string]any) *apitest.Response {
	b.Helper()
	r := s.Do(b, token, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		b.Fatalf("status %d: %s", r.Status, r.Body)
	}
	return r
}

// reportSQL reports the SQL statements per operation run since before.
func reportSQL(b *testing.B, s *apitest.Client, before int64) {
	b.Helper()
	b.ReportMetric(float64(s.SQLCount()-before)/float64(b.N), "sql/op")
}

// BenchmarkMe measures an authenticated `me`: token check, session and
// permission lookup, one user row.
func BenchmarkMe(b *testing.B) {
	s, p := benchServer(b)
	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	for range b.N {
		benchQuery(b, s, p.Token, benchMeQuery, nil)
	}
	b.StopTimer()
	reportSQL(b, s, before)
}

// BenchmarkBooksPage measures a full page of 100 books with every field.
func BenchmarkBooksPage(b *testing.B) {
	s, p := benchServer(b)
	ctx := context.Background()
	for i := range benchBooks {
		_, err := s.DB.Book.Create().SetTitle(fmt.Sprintf("Book %03d", i)).SetAuthor("Author").
			SetIsbn(fmt.Sprintf("978-0-00-%06d-0", i)).SetPublishedYear(1900 + i).Save(ctx)
		require.NoError(b, err, "create book %d", i)
	}
	books := apitest.Data[apitest.Connection[json.RawMessage]](b, benchQuery(b, s, p.Token, benchBooksQuery, nil), "books")
	require.Equal(b, benchBooks, books.TotalCount)
	require.Len(b, books.Edges, benchBooks)

	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	for range b.N {
		benchQuery(b, s, p.Token, benchBooksQuery, nil)
	}
	b.StopTimer()
	reportSQL(b, s, before)
}

// BenchmarkNotesWithOwners measures 50 of the caller's notes with each
// note's owner: sql/op shows whether owners are loaded per note.
func BenchmarkNotesWithOwners(b *testing.B) {
	s, p := benchServer(b)
	ctx := context.Background()
	owner := uuid.MustParse(p.ID)
	for i := range benchNotes {
		_, err := s.DB.Note.Create().SetTitle(fmt.Sprintf("Note %02d", i)).SetContent("content").
			SetOwnerID(owner).Save(ctx)
		require.NoError(b, err, "create note %d", i)
	}
	r := benchQuery(b, s, p.Token, benchNotesQuery, nil)
	require.Equal(b, benchNotes, strings.Count(string(r.Data), benchOwnerEmailIn), "owners in %s", r.Data)

	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	for range b.N {
		benchQuery(b, s, p.Token, benchNotesQuery, nil)
	}
	b.StopTimer()
	reportSQL(b, s, before)
}

// BenchmarkSignin measures a successful sign-in, dominated by one argon2id
// verification (m=19 MiB, t=2: some 25 ms).
func BenchmarkSignin(b *testing.B) {
	s, _ := benchServer(b)
	vars := map[string]any{"e": benchUserEmail, "p": apitest.Password}
	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	for range b.N {
		benchQuery(b, s, "", benchSigninMut, vars)
	}
	b.StopTimer()
	reportSQL(b, s, before)
}

// BenchmarkRefresh measures refresh-token rotation; each iteration rotates
// the token the previous one received.
func BenchmarkRefresh(b *testing.B) {
	s, p := benchServer(b)
	token := p.RefreshToken
	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	for range b.N {
		out := apitest.Data[apitest.Session](b, benchQuery(b, s, "", benchRefreshMut, map[string]any{"t": token}), "refresh")
		if out.RefreshToken == "" || out.RefreshToken == token {
			b.Fatalf("refresh did not rotate the token: %+v", out)
		}
		token = out.RefreshToken
	}
	b.StopTimer()
	reportSQL(b, s, before)
}

// BenchmarkParallelMe measures `me` from GOMAXPROCS concurrent clients.
func BenchmarkParallelMe(b *testing.B) {
	s, p := benchServer(b)
	var failed atomic.Bool
	b.ReportAllocs()
	before := s.SQLCount()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := benchPost(s, p.Token, benchMeQuery); err != nil {
				if failed.CompareAndSwap(false, true) {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
				}
				return
			}
		}
	})
	b.StopTimer()
	reportSQL(b, s, before)
}

// benchPost posts a query and returns an error unless the answer is 200
// without GraphQL errors. Unlike s.Query it never stops the goroutine, so
// it is safe in b.RunParallel.
func benchPost(s *apitest.Client, token, query string) error {
	r, err := s.Post(token, query, nil)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		return fmt.Errorf("status %d: %s", r.Status, r.Body)
	}
	return nil
}
