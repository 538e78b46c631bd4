package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/internal/apitest"
)

// The benchmarks run the real handler on an httptest server over SQLite
// (or PostgreSQL with TEST_DATABASE_URL), so each operation includes a
// loopback HTTP round trip and the client's JSON work; allocs/op counts
// client and server together. Each reports sql/op, the SQL statements the
// server ran per operation. The read paths run from 64 concurrent clients,
// as the load program does, so that pool and contention costs show:
//
//	go test ./graph/ -run '^$' -bench . -benchtime 2000x -count 6 | tee new.txt
//	benchstat old.txt new.txt

const (
	benchBooksQuery  = `{ books(first: 10) { edges { node { id title author } } } }`
	benchBookQuery   = `query($id: ID!) { book(id: $id) { id title author } }`
	benchMeQuery     = `{ me { id email permissions } }`
	benchNotesQuery  = `{ notes(first: 10) { edges { node { id title } } } }`
	benchSigninMut   = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken refreshToken } }`
	benchRefreshMut  = `mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }`
	benchUserEmail   = "bench@example.com"
	benchClients     = 64
	benchCatalogSize = 1000
)

// benchServer starts a test server with one FREE user signed up through the
// API, and returns it with the user's token pair.
func benchServer(b *testing.B) (*apitest.Client, apitest.AuthPayload) {
	b.Helper()
	s := apitest.New(b)
	return s, s.SignUpAs(b, benchUserEmail)
}

// seedBooks adds n books through ent and returns their ids.
func seedBooks(b *testing.B, s *apitest.Client, n int) []uuid.UUID {
	b.Helper()
	builders := make([]*ent.BookCreate, n)
	for i := range builders {
		builders[i] = s.DB.Book.Create().SetTitle(fmt.Sprintf("Book %04d", i)).SetAuthor("Author").
			SetIsbn(fmt.Sprintf("978-0-00-%06d-0", i)).SetPublishedYear(1900 + i%100)
	}
	var ids []uuid.UUID
	for chunk := range slices.Chunk(builders, 100) {
		books, err := s.DB.Book.CreateBulk(chunk...).Save(context.Background())
		require.NoError(b, err, "create books")
		for _, bk := range books {
			ids = append(ids, bk.ID)
		}
	}
	return ids
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds the per-operation metrics that do not depend on how busy the
// machine is: SQL statements and CPU time (client and server together).
func report(b *testing.B, s *apitest.Client, sqlBefore int64, cpuBefore time.Duration) {
	b.ReportMetric(float64(s.SQLCount()-sqlBefore)/float64(b.N), "sql/op")
	b.ReportMetric(float64(cpuTime()-cpuBefore)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// benchParallel runs op from benchClients concurrent clients and reports
// sql/op. op gets the index of its call and returns an error for a bad
// answer (it must not use b: it runs off the benchmark's goroutine).
func benchParallel(b *testing.B, s *apitest.Client, op func(i int64) error) {
	b.Helper()
	var n atomic.Int64
	var failed atomic.Bool
	b.SetParallelism(max(1, benchClients/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	before, cpu := s.SQLCount(), cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(n.Add(1)); err != nil {
				if failed.CompareAndSwap(false, true) {
					b.Error(err)
				}
				return
			}
		}
	})
	b.StopTimer()
	report(b, s, before, cpu)
}

// benchSerial runs op b.N times in turn and reports sql/op and
// cpu-µs/op.
func benchSerial(b *testing.B, s *apitest.Client, op func(i int64) error) {
	b.Helper()
	b.ReportAllocs()
	before, cpu := s.SQLCount(), cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if err := op(int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, s, before, cpu)
}

// post sends one operation and returns an error unless the answer is 200
// without GraphQL errors and its data contains want.
func post(s *apitest.Client, token, query string, vars apitest.Vars, want string) error {
	r, err := s.Post(token, query, vars)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK || len(r.Errors) > 0 || !strings.Contains(string(r.Data), want) {
		return fmt.Errorf("status %d, want data with %q: %s", r.Status, want, r.Body)
	}
	return nil
}

// BenchmarkBooks is the load program's first scenario: an authenticated
// first page of 10 out of 1,000 books, from 64 clients.
func BenchmarkBooks(b *testing.B) {
	s, p := benchServer(b)
	seedBooks(b, s, benchCatalogSize)
	benchParallel(b, s, func(int64) error {
		return post(s, p.Token, benchBooksQuery, nil, `"title":"Book 0009"`)
	})
}

// BenchmarkBook is the load program's anonymous book(id:), from 64
// clients, over 1,000 books.
func BenchmarkBook(b *testing.B) {
	s, _ := benchServer(b)
	ids := seedBooks(b, s, benchCatalogSize)
	benchParallel(b, s, func(i int64) error {
		id := ids[int(i)%len(ids)]
		return post(s, "", benchBookQuery, apitest.Vars{"id": id.String()}, id.String())
	})
}

// BenchmarkMe measures an authenticated `me` from 64 clients.
func BenchmarkMe(b *testing.B) {
	s, p := benchServer(b)
	benchParallel(b, s, func(int64) error {
		return post(s, p.Token, benchMeQuery, nil, benchUserEmail)
	})
}

// BenchmarkNotesPage measures the first page of the caller's notes, from
// 64 clients, with 100 notes each of the caller and of 9 other users.
func BenchmarkNotesPage(b *testing.B) {
	s, p := benchServer(b)
	ctx := context.Background()
	owners := []uuid.UUID{uuid.MustParse(p.ID)}
	for i := range 9 {
		owners = append(owners, uuid.MustParse(s.SignUpAs(b, fmt.Sprintf("other%d@example.com", i)).ID))
	}
	var notes []*ent.NoteCreate
	for i := range 100 {
		for _, o := range owners {
			notes = append(notes, s.DB.Note.Create().SetTitle(fmt.Sprintf("Note %03d", i)).SetContent("content").SetOwnerID(o))
		}
	}
	for chunk := range slices.Chunk(notes, 100) {
		require.NoError(b, s.DB.Note.CreateBulk(chunk...).Exec(ctx))
	}
	benchParallel(b, s, func(int64) error {
		return post(s, p.Token, benchNotesQuery, nil, `"title":"Note 009"`)
	})
}

// BenchmarkSignin measures a successful sign-in, one at a time: mostly one
// argon2id verification (m=19 MiB, t=2).
func BenchmarkSignin(b *testing.B) {
	s, _ := benchServer(b)
	vars := apitest.Vars{"e": benchUserEmail, "p": apitest.Password}
	benchSerial(b, s, func(int64) error {
		return post(s, "", benchSigninMut, vars, "accessToken")
	})
}

// BenchmarkRefresh measures refresh-token rotation, one at a time; each
// call rotates the token the previous one received.
func BenchmarkRefresh(b *testing.B) {
	s, p := benchServer(b)
	token := p.RefreshToken
	benchSerial(b, s, func(int64) error {
		r, err := s.Post("", benchRefreshMut, apitest.Vars{"t": token})
		if err != nil {
			return err
		}
		var out struct{ Refresh apitest.AuthPayload }
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			return fmt.Errorf("status %d: %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Data, &out); err != nil {
			return err
		}
		if out.Refresh.RefreshToken == "" || out.Refresh.RefreshToken == token {
			return fmt.Errorf("refresh did not rotate the token: %s", r.Data)
		}
		token = out.Refresh.RefreshToken
		return nil
	})
}

// BenchmarkInProcess runs the read paths of the other benchmarks through
// the server's handler in-process, from 64 goroutines: no client, no
// connection, no JSON decoding of the answer, so allocs/op and cpu-µs/op
// are the server's own (plus building the request, recording the answer,
// and the test's SQL log: some 10 allocations per statement).
func BenchmarkInProcess(b *testing.B) {
	s, p := benchServer(b)
	ids := seedBooks(b, s, benchCatalogSize)
	for _, bc := range []struct {
		name, token, query string
		vars               apitest.Vars
		want               string
	}{
		{"books", p.Token, benchBooksQuery, nil, `"title":"Book 0009"`},
		{"book", "", benchBookQuery, apitest.Vars{"id": ids[500].String()}, ids[500].String()},
		{"me", p.Token, benchMeQuery, nil, benchUserEmail},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body, err := json.Marshal(map[string]any{"query": bc.query, "variables": bc.vars})
			require.NoError(b, err)
			benchParallel(b, s, func(int64) error { return serve(s.Handler, bc.token, body, bc.want) })
		})
	}
}

// serve posts body to h in-process and returns an error unless the answer
// is 200 without errors and contains want.
func serve(h http.Handler, token string, body []byte, want string) error {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) || !bytes.Contains(w.Body.Bytes(), []byte(want)) {
		return fmt.Errorf("status %d, want data with %q: %s", w.Code, want, w.Body)
	}
	return nil
}

// BenchmarkRequestPasswordReset measures requestPasswordReset for a known
// and an unknown email, one request at a time, against a real SMTP
// server: each op is one request of each, in alternating order, and then
// waits (untimed) for the work the two left to run after their answer, so
// that it never piles up. It reports the median and 95th percentile of
// each kind's answer time, which the contract wants about the same, so
// that timing does not tell which emails have an account:
//
//	go test ./graph/ -run '^$' -bench RequestPasswordReset -benchtime 300x -count 3
func BenchmarkRequestPasswordReset(b *testing.B) {
	s := apitest.New(b, apitest.Options{Mail: true})
	s.SignUpAs(b, benchUserEmail)
	times := map[bool][]time.Duration{} // by whether the email is known
	benchSerial(b, s, func(i int64) error {
		emails := []string{benchUserEmail, fmt.Sprintf("nobody-%d@example.com", i)}
		if i%2 == 1 {
			slices.Reverse(emails)
		}
		for _, email := range emails {
			start := time.Now()
			if err := post(s, "", apitest.OpRequestPasswordReset, apitest.Vars{"email": email}, "true"); err != nil {
				return err
			}
			times[email == benchUserEmail] = append(times[email == benchUserEmail], time.Since(start))
		}
		s.Accounts.Wait()
		return nil
	})
	for known, name := range map[bool]string{true: "known", false: "unknown"} {
		ds := times[known]
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds()), name+"-p95-µs")
	}
}
