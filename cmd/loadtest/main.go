// Command loadtest measures a running bitgate server against a bare
// net/http handler started in the same run, scenario by scenario, and
// prints each scenario's throughput, p50 and p99, the ratio to the bare
// handler, the server's resident memory, and whether the goals of issue 7
// hold:
//
//   - authenticated books(first: 10) from 64 connections;
//   - anonymous book(id:) from 64 connections;
//   - books from 64 connections while 8 more flood signin;
//   - book(id:) from 2,000 and from 6,000 keep-alive connections.
//
// The bare handler does the transport work of a request and nothing else:
// it reads the JSON body, verifies an HS256 token with golang-jwt (the
// same parser settings as the server's) and writes the bytes the server
// answered to the same query.
//
// It only talks to loopback addresses (the -url host must be one, and the
// dialer refuses any other), every scenario is bounded in time, and it ends
// by itself. It raises its own open-file limit for the keep-alive
// scenarios; the server needs a hard limit above the largest one too.
//
// Usage (see docs/performance.md):
//
//	go run ./cmd/loadtest -url http://127.0.0.1:18181/graphql -pid $PID \
//	    -admin-email load@example.com -admin-password 'load test admin'
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// settings are the command line.
type settings struct {
	url            string
	pid            int
	adminEmail     string
	adminPassword  string
	books          int
	duration       time.Duration
	conns          int
	flood          int
	hashWorkers    int
	keepAlive      []int
	scenarios      map[string]bool
	requestTimeout time.Duration
}

// parse reads the flags.
func parse(args []string) (*settings, error) {
	s := &settings{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&s.url, "url", "http://127.0.0.1:18181/graphql", "the server's GraphQL endpoint; must be on a loopback address")
	fs.IntVar(&s.pid, "pid", 0, "the server's process id, to read its resident memory from /proc (0: not reported)")
	fs.StringVar(&s.adminEmail, "admin-email", "", "an ADMIN's email, to add books until there are -books (none added without it)")
	fs.StringVar(&s.adminPassword, "admin-password", os.Getenv("ADMIN_PASSWORD"), "that ADMIN's password (default $ADMIN_PASSWORD)")
	fs.IntVar(&s.books, "books", 1000, "books the catalogue must hold")
	fs.DurationVar(&s.duration, "duration", 10*time.Second, "measured time of each scenario (each also warms up for a tenth of it)")
	fs.IntVar(&s.conns, "conns", 64, "connections of the 64-connection scenarios")
	fs.IntVar(&s.flood, "flood", 8, "connections flooding signin")
	fs.IntVar(&s.hashWorkers, "hash-workers", max(1, runtime.NumCPU()/2), "the server's HASH_WORKERS, for the sign-in capacity")
	keepAlive := fs.String("keepalive", "2000,6000", "connection counts of the keep-alive scenarios (empty: none)")
	only := fs.String("scenarios", "books,book,flood,keepalive", "the scenarios to run")
	fs.DurationVar(&s.requestTimeout, "timeout", 10*time.Second, "a request unanswered this long counts as a timeout")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	s.scenarios = map[string]bool{}
	for name := range strings.SplitSeq(*only, ",") {
		switch name = strings.TrimSpace(name); name {
		case "books", "book", "flood", "keepalive":
			s.scenarios[name] = true
		default:
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (books, book, flood, keepalive)", name)
		}
	}
	if !s.scenarios["keepalive"] {
		*keepAlive = ""
	}
	if !s.scenarios["flood"] {
		s.flood = 0
	}
	for f := range strings.SplitSeq(*keepAlive, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 20_000 {
			return nil, fmt.Errorf("-keepalive: %q is not a connection count from 1 to 20000", f)
		}
		s.keepAlive = append(s.keepAlive, n)
	}
	switch {
	case s.duration < time.Second || s.duration > 10*time.Minute:
		return nil, fmt.Errorf("-duration must be from 1s to 10m, not %s", s.duration)
	case s.conns < 1 || s.conns > 4096:
		return nil, fmt.Errorf("-conns must be from 1 to 4096, not %d", s.conns)
	case s.flood < 0 || s.flood > 1024:
		return nil, fmt.Errorf("-flood must be from 0 to 1024, not %d", s.flood)
	case s.books < 1 || s.books > 100_000:
		return nil, fmt.Errorf("-books must be from 1 to 100000, not %d", s.books)
	case s.hashWorkers < 1:
		return nil, fmt.Errorf("-hash-workers must be at least 1")
	}
	return s, checkLoopback(s.url)
}

// run measures every scenario and prints the report.
func run(args []string, out io.Writer) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	// Each keep-alive connection costs a descriptor on the client side,
	// and one more on the bare handler's side, which runs in this process.
	need := 2*(slicesMax(s.keepAlive)+s.conns+s.flood) + 256
	if err := raiseOpenFiles(need); err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Fprintf(out, "loadtest: %s (pid %d), %d CPUs, %s per scenario\n", s.url, s.pid, runtime.NumCPU(), s.duration)
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "load average before: %s", load)
	}

	perHash := timeHashes()
	fmt.Fprintf(out, "argon2id here: %.1f ms per hash; %d hashing workers can do %.1f sign-ins/s\n",
		ms(perHash), s.hashWorkers, float64(s.hashWorkers)/perHash.Seconds())

	srv := newClient(s.url, s.requestTimeout)
	fx, err := setup(ctx, srv, s)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	srv.closeIdle()
	fmt.Fprintf(out, "setup: signed up %s; book(id:) asks for %s\n", fx.email, fx.bookVars["id"])
	bare, err := startBare(s.requestTimeout)
	if err != nil {
		return err
	}
	defer bare.close()
	fx.bareToken = bare.token
	mem := newMemWatch(s.pid)

	var rows []row
	measure := func(name string, conns int, ops ...op) row {
		r := runScenario(ctx, s, name, conns, ops, mem)
		rows = append(rows, r)
		return r
	}

	// 1. Authenticated books(first: 10), 64 connections.
	var bareBooks, srvBooks, bareBook, srvBook row
	if s.scenarios["books"] || s.scenarios["flood"] {
		bare.answer(fx.booksAnswer)
		bareBooks = measure("books(first:10) bare", s.conns, bare.op("books", fx.bareToken, booksQuery, nil))
	}
	if s.scenarios["books"] {
		srvBooks = measure("books(first:10)", s.conns, srv.op("books", fx.token, booksQuery, nil))
	}

	// 2. Anonymous book(id:), 64 connections.
	if s.scenarios["book"] {
		bare.answer(fx.bookAnswer)
		bareBook = measure("book(id) bare", s.conns, bare.op("book", "", bookQuery, fx.bookVars))
		srvBook = measure("book(id)", s.conns, srv.op("book", "", bookQuery, fx.bookVars))
	}

	// 3. Books while flood connections send signin.
	var flood row
	if s.flood > 0 {
		ops := make([]op, s.conns+s.flood)
		for i := range s.conns {
			ops[i] = srv.op("books", fx.token, booksQuery, nil)
		}
		for i := range s.flood {
			ops[s.conns+i] = srv.signinOp(fx.email, fx.password)
		}
		flood = measure("books + signin flood", s.conns+s.flood, ops...)
	}

	// 4. Keep-alive connections doing book(id:).
	type kaRow struct{ bare, srv row }
	var ka []kaRow
	for _, n := range s.keepAlive {
		bare.answer(fx.bookAnswer)
		b := measure(fmt.Sprintf("book(id) %d conns bare", n), n, bare.op("book", "", bookQuery, fx.bookVars))
		v := measure(fmt.Sprintf("book(id) %d conns", n), n, srv.op("book", "", bookQuery, fx.bookVars))
		ka = append(ka, kaRow{b, v})
	}

	printRows(out, rows)
	peak := mem.peak()
	if peak > 0 {
		fmt.Fprintf(out, "\nserver peak RSS (VmHWM): %.0f MB\n", mb(peak))
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "load average after: %s", load)
	}

	// The goals of issue 7.
	g := goals{out: out}
	fmt.Fprintln(out, "\ngoals:")
	if s.scenarios["books"] {
		g.check("books >= 40% of bare", ratio(srvBooks, bareBooks) >= 0.40, "%.0f%%", 100*ratio(srvBooks, bareBooks))
		g.check("books p99 <= 10 ms", srvBooks.p99("books") <= 10*time.Millisecond, "%.2f ms", ms(srvBooks.p99("books")))
	}
	if s.scenarios["book"] {
		g.check("book(id) >= 40% of bare", ratio(srvBook, bareBook) >= 0.40, "%.0f%%", 100*ratio(srvBook, bareBook))
		g.check("book(id) >= 27,300 req/s (3x 9,100)", srvBook.rate("book") >= 27_300, "%.0f req/s", srvBook.rate("book"))
	}
	if s.flood > 0 {
		capacity := float64(s.hashWorkers) / perHash.Seconds()
		g.check("books p99 <= 20 ms during the flood", flood.p99("books") <= 20*time.Millisecond, "%.2f ms", ms(flood.p99("books")))
		g.check("sign-ins >= 90% of the hashing pool", flood.rate("signin") >= 0.9*capacity,
			"%.1f/s of %.1f/s (%.0f%%)", flood.rate("signin"), capacity, 100*flood.rate("signin")/capacity)
	}
	for _, k := range ka {
		if k.srv.conns <= 2000 {
			g.check(fmt.Sprintf("no timeouts at %d connections", k.srv.conns), k.srv.timeouts == 0, "%d timeouts", k.srv.timeouts)
		}
	}
	if peak > 0 {
		g.check("server RSS <= 200 MB throughout", peak <= 200<<20, "%.0f MB", mb(peak))
	}
	if g.failed > 0 {
		return fmt.Errorf("%d of %d goals not met", g.failed, g.total)
	}
	return nil
}

// goals prints goal checks and counts the failures.
type goals struct {
	out           io.Writer
	total, failed int
}

// check prints one goal with the measured value.
func (g *goals) check(name string, ok bool, format string, args ...any) {
	g.total++
	mark := "met    "
	if !ok {
		mark = "NOT MET"
		g.failed++
	}
	fmt.Fprintf(g.out, "  %s  %-42s %s\n", mark, name, fmt.Sprintf(format, args...))
}

// ratio is a's throughput of its first operation over b's.
func ratio(a, b row) float64 {
	if len(a.ops) == 0 || len(b.ops) == 0 || b.ops[0].rate == 0 {
		return 0
	}
	return a.ops[0].rate / b.ops[0].rate
}

// randomEmail returns a fresh address under example.com.
func randomEmail(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:12]) + "@example.com"
}

// errTimeout marks a request that was not answered in time.
var errTimeout = errors.New("timeout")

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }
