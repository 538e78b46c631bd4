// Command loadtest measures a running bitgate server on this machine: the
// latency of ordinary authenticated queries alone and during a sign-in
// flood, the flood's outcomes, and a storm of concurrent refreshes of one
// token. It only ever talks to the -url it is given, which must be on a
// loopback address, and every phase is bounded, so it ends by itself.
//
// Usage:
//
//	go run ./internal/loadtest -url http://127.0.0.1:8080/graphql [-duration 1] [-workers 64]
//
// For a fair run start the server with AUTH_RATE=0, so that the
// per-address limit (all load comes from one address) does not hide the
// password-hashing pool:
//
//	go build -o /tmp/lt/bitgate . && AUTH_RATE=0 /tmp/lt/bitgate -addr 127.0.0.1:18181 -data-dir /tmp/lt/data
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

// Fixed sizes of the phases; -duration scales the times.
const (
	baselineTime   = 5 * time.Second
	floodTime      = 10 * time.Second
	floodRamp      = 500 * time.Millisecond // flood runs alone before queries are measured
	queryWorkers   = 4
	stormSize      = 50
	goodSigninEach = 16 // one flood sign-in in this many uses the right password
	requestTimeout = 30 * time.Second
)

const (
	meQuery     = `{ me { id email permissions } }`
	booksQuery  = `{ books(first: 10) { totalCount edges { node { id title author } } } }`
	signupMut   = `mutation($in: SignupInput!) { signup(input: $in) { accessToken refreshToken } }`
	signinMut   = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken } }`
	refreshMut  = `mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }`
	codeOK      = "ok"
	codeNetwork = "NETWORK_ERROR"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// run parses flags, checks the target and runs every phase in turn.
func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	target := fs.String("url", "http://127.0.0.1:8080/graphql", "GraphQL endpoint; must be on a loopback address")
	scale := fs.Float64("duration", 1, "scale of the phase durations (baseline 5s, flood 10s at 1)")
	workers := fs.Int("workers", 64, "concurrent sign-in workers of the flood")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scale <= 0 || *scale > 60 {
		return fmt.Errorf("-duration must be in (0, 60], not %v", *scale)
	}
	if *workers < 1 || *workers > 1024 {
		return fmt.Errorf("-workers must be 1 to 1024, not %d", *workers)
	}
	if err := checkLoopback(*target); err != nil {
		return err
	}
	fmt.Fprintf(out, `For a fair run, start the server with the per-address limit off (all load
comes from one address, so AUTH_RATE would answer before the hashing pool):

  go build -o /tmp/lt/bitgate . && AUTH_RATE=0 /tmp/lt/bitgate -addr 127.0.0.1:18181 -data-dir /tmp/lt/data

HASH_WORKERS defaults to half the CPUs (1 on 2 cores), HASH_QUEUE to 128;
compare with HASH_WORKERS=2. The load generator shares this machine's CPUs.

target %s, duration scale %g, flood workers %d

`, *target, *scale, *workers)

	c := newClient(*target, *workers+queryWorkers+stormSize)
	ctx := context.Background()

	// a. setup
	email, password, tok, err := setup(ctx, c)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(out, "setup: signed up %s\n\n", email)

	// b. baseline
	d := time.Duration(*scale * float64(baselineTime))
	base := newRecorder()
	start := time.Now()
	runQueries(ctx, c, tok.AccessToken, time.Now().Add(d), base)
	baseElapsed := time.Since(start)

	// c. flood
	d = time.Duration(*scale * float64(floodTime))
	deadline := time.Now().Add(d)
	flood, during := newRecorder(), newRecorder()
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Go(func() { floodSignins(ctx, c, w, email, password, deadline, flood) })
	}
	time.Sleep(min(floodRamp, d/4))
	start = time.Now()
	runQueries(ctx, c, tok.AccessToken, deadline, during)
	floodElapsed := time.Since(start)
	wg.Wait()
	floodAll := time.Duration(*scale * float64(floodTime))

	// d. refresh storm
	storm := newRecorder()
	start = time.Now()
	winners := refreshStorm(ctx, c, tok.RefreshToken, storm)
	stormElapsed := time.Since(start)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\top\tcount\tok\terrors\tp50\tp95\tp99\tmax\treq/s\t")
	for _, row := range []struct {
		phase   string
		r       *recorder
		elapsed time.Duration
	}{
		{"baseline", base, baseElapsed},
		{"flood", during, floodElapsed},
		{"flood", flood, floodAll},
		{"storm", storm, stormElapsed},
	} {
		row.r.print(tw, row.phase, row.elapsed)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	bad, good := flood.ops["signin(wrong)"], flood.ops["signin(right)"]
	fmt.Fprintf(out, "\nflood sign-ins: wrong password %s; right password %s\n", bad.codes(), good.codes())
	for _, op := range []string{"me", "books"} {
		b, f := base.ops[op], during.ops[op]
		if b != nil && f != nil {
			fmt.Fprintf(out, "%s p99: baseline %s, during flood %s (x%.1f)\n", op,
				ms(b.pct(99)), ms(f.pct(99)), float64(f.pct(99))/float64(max(b.pct(99), 1)))
		}
	}
	fmt.Fprintf(out, "refresh storm: %d concurrent refreshes of one token, winners %d (must be 1)\n", stormSize, winners)
	if winners != 1 {
		return fmt.Errorf("refresh storm: %d winners, want exactly 1", winners)
	}
	return nil
}

// checkLoopback refuses any URL whose host is not localhost, 127.0.0.0/8
// or ::1.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse -url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url must be http or https, not %q", u.Scheme)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Unmap().IsLoopback() {
		return fmt.Errorf("-url host %q is not a loopback address (127.0.0.0/8, ::1 or localhost): refused", host)
	}
	return nil
}

// client posts GraphQL operations to the one target URL.
type client struct {
	url  string
	http *http.Client
}

// newClient returns a client for target keeping up to conns connections
// open. It follows no redirects and dials loopback addresses only, so a
// name that resolves elsewhere is refused too.
func newClient(target string, conns int) *client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("refusing to dial %s: not loopback", address)
			}
			return nil
		},
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
	}
	return &client{url: target, http: &http.Client{
		Transport: tr,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// result is one answer: its error code ("ok" if none) and decoded data.
type result struct {
	code    string
	data    json.RawMessage
	latency time.Duration
}

// do posts one operation and classifies the answer. Transport failures
// are returned as code NETWORK_ERROR with err set.
func (c *client) do(ctx context.Context, token, query string, vars map[string]any) (result, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return result{}, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return result{}, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		return result{code: codeNetwork, latency: time.Since(start)}, fmt.Errorf("post: %w", err)
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	r := result{latency: time.Since(start)}
	if err != nil {
		r.code = codeNetwork
		return r, fmt.Errorf("read answer: %w", err)
	}
	var ans struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	switch {
	case json.Unmarshal(raw, &ans) != nil:
		r.code = fmt.Sprintf("HTTP_%d", res.StatusCode)
	case len(ans.Errors) > 0:
		r.code = cmpOr(ans.Errors[0].Extensions.Code, "UNCODED")
	case res.StatusCode != http.StatusOK:
		r.code = fmt.Sprintf("HTTP_%d", res.StatusCode)
	default:
		r.code, r.data = codeOK, ans.Data
	}
	return r, nil
}

// cmpOr returns s, or def if s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// tokens is a token pair.
type tokens struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// setup signs up a user with a unique email and returns its credentials
// and token pair.
func setup(ctx context.Context, c *client) (email, password string, t tokens, err error) {
	email = fmt.Sprintf("loadtest-%d-%s@example.com", time.Now().UnixNano(), strings.ToLower(rand.Text()[:8]))
	password = "loadtest " + rand.Text()
	r, err := c.do(ctx, "", signupMut, map[string]any{"in": map[string]any{
		"firstName": "Load", "lastName": "Test", "email": email, "password": password,
	}})
	if err != nil {
		return "", "", t, fmt.Errorf("sign up %s: %w", email, err)
	}
	if r.code != codeOK {
		return "", "", t, fmt.Errorf("sign up %s: %s (is the server running with AUTH_RATE=0?)", email, r.code)
	}
	var out struct{ Signup tokens }
	if err := json.Unmarshal(r.data, &out); err != nil || out.Signup.AccessToken == "" {
		return "", "", t, fmt.Errorf("sign up %s: no tokens in %s: %v", email, r.data, err)
	}
	return email, password, out.Signup, nil
}

// runQueries runs `me` and `books(first: 10)` alternately from
// queryWorkers workers until deadline, recording each answer.
func runQueries(ctx context.Context, c *client, access string, deadline time.Time, rec *recorder) {
	var wg sync.WaitGroup
	for w := range queryWorkers {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline); i++ {
				op, q := "me", meQuery
				if i%2 == 1 {
					op, q = "books", booksQuery
				}
				r, _ := c.do(ctx, access, q, nil)
				rec.add(op, r)
			}
		})
	}
	wg.Wait()
}

// floodSignins sends sign-ins until deadline: wrong passwords for random
// unknown emails, and every goodSigninEach-th the right password for the
// real email. Worker w starts at its own offset, so the right ones spread.
func floodSignins(ctx context.Context, c *client, w int, email, password string, deadline time.Time, rec *recorder) {
	for i := w; time.Now().Before(deadline); i++ {
		op, vars := "signin(wrong)", map[string]any{
			"e": "nobody-" + strings.ToLower(rand.Text()[:16]) + "@example.com", "p": "wrong " + rand.Text(),
		}
		if i%goodSigninEach == 0 {
			op, vars = "signin(right)", map[string]any{"e": email, "p": password}
		}
		r, _ := c.do(ctx, "", signinMut, vars)
		rec.add(op, r)
	}
}

// refreshStorm refreshes one token from stormSize goroutines at once and
// returns how many won.
func refreshStorm(ctx context.Context, c *client, refresh string, rec *recorder) int {
	var winners atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range stormSize {
		wg.Go(func() {
			<-start
			r, _ := c.do(ctx, "", refreshMut, map[string]any{"t": refresh})
			if r.code == codeOK {
				winners.Add(1)
			}
			rec.add("refresh", r)
		})
	}
	close(start)
	wg.Wait()
	return int(winners.Load())
}

// recorder collects answers per operation; it is safe for concurrent use.
type recorder struct {
	mu  sync.Mutex
	ops map[string]*opStats
}

// opStats are one operation's latencies and answer codes.
type opStats struct {
	lat      []time.Duration
	byCode   map[string]int
	isSorted bool
}

// newRecorder returns an empty recorder.
func newRecorder() *recorder { return &recorder{ops: map[string]*opStats{}} }

// add records one answer of op.
func (r *recorder) add(op string, res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &opStats{byCode: map[string]int{}}
		r.ops[op] = s
	}
	s.lat = append(s.lat, res.latency)
	s.byCode[res.code]++
	s.isSorted = false
}

// print writes one table row per operation, by name.
func (r *recorder) print(w io.Writer, phase string, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := slices.Sorted(maps.Keys(r.ops))
	for _, op := range ops {
		s := r.ops[op]
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f\t\n", phase, op, len(s.lat), s.byCode[codeOK],
			s.errors(), ms(s.pct(50)), ms(s.pct(95)), ms(s.pct(99)), ms(s.pct(100)),
			float64(len(s.lat))/elapsed.Seconds())
	}
}

// pct returns the p-th percentile latency (nearest rank); 100 is the max.
func (s *opStats) pct(p float64) time.Duration {
	if s == nil || len(s.lat) == 0 {
		return 0
	}
	if !s.isSorted {
		slices.Sort(s.lat)
		s.isSorted = true
	}
	i := int(p/100*float64(len(s.lat))+0.999999) - 1
	return s.lat[min(max(i, 0), len(s.lat)-1)]
}

// errors lists the error codes and their counts, or "-".
func (s *opStats) errors() string {
	var parts []string
	for code, n := range s.byCode {
		if code != codeOK {
			parts = append(parts, fmt.Sprintf("%s=%d", code, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// codes lists every answer code with its count, ok included.
func (s *opStats) codes() string {
	if s == nil {
		return "none sent"
	}
	parts := []string{fmt.Sprintf("ok=%d", s.byCode[codeOK])}
	if e := s.errors(); e != "-" {
		parts = append(parts, e)
	}
	return strings.Join(parts, " ")
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
