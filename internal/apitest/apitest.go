// Package apitest is the one way tests talk to the server. It builds the
// server through app.New, the constructor the binary uses, on a fresh
// database, serves it with httptest, and speaks GraphQL to it over HTTP, so
// that a test reads like the contract:
//
//	c := apitest.New(t)
//	u := c.SignUp(t)
//	r := c.Do(t, u.Token, apitest.OpUsers, nil)
//	apitest.RequireCode(t, r, "FORBIDDEN")
//
// Every answer is held to the rules that apply to all of them (see
// Response). Time is the Client's Clock, which tests advance instead of
// sleeping. A package of such tests runs them on SQLite, and once more on
// PostgreSQL when TEST_DATABASE_URL is set, with
//
//	func TestMain(m *testing.M) { apitest.Main(m) }
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/auth/authtest"
	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/app"
	"bitgate/internal/database"
	"bitgate/internal/metrics"
)

// The signing key and claims of test servers.
var (
	secret   = []byte("test-secret-0123456789abcdef0123456789")
	issuer   = "bitgate-test"
	audience = "bitgate-test-api"
)

// Options change a test server; the zero value is the contract's defaults
// with no per-address limit.
type Options struct {
	// AccessTTL, RefreshTTL and ReuseGrace default to 15m, 720h and 10s.
	AccessTTL, RefreshTTL, ReuseGrace time.Duration
	Production                        bool
	// DatabaseURL shares a database between servers (see NewInstance);
	// empty means a fresh one (FreshDatabase).
	DatabaseURL string
	// AuthRate and AuthBurst limit signin, signup and refresh per client
	// address; AuthRate 0 means no limit.
	AuthRate  float64
	AuthBurst int
	// HashWorkers is the hashing pool's size (0: one per CPU); HashQueue
	// how many callers may wait for it (0: 256, negative: none).
	HashWorkers, HashQueue int
	// Limits, CORSOrigins and TrustedProxies go to the server as they are.
	Limits         graph.Limits
	CORSOrigins    []string
	TrustedProxies []netip.Prefix
	// Clock is the server's clock; nil means a new one at the current time.
	Clock *Clock
	// Log, if set, receives the server log at every level instead of the
	// test log (which gets warnings and errors).
	Log *Log
	// Metrics, if set, receives the server's metrics.
	Metrics *metrics.Metrics
}

// Client is a running test server and a client of its API.
type Client struct {
	// URL is the server's base URL.
	URL string
	// DB is the server's database, for arranging and checking what the
	// API cannot show.
	DB *ent.Client
	// Accounts is the server's account service.
	Accounts *account.Service
	// DatabaseURL is where DB lives (see NewInstance).
	DatabaseURL string
	// Clock is the server's clock.
	Clock *Clock

	http    *http.Client
	opts    Options
	queries *atomic.Int64
}

// New builds a server through app.New with opts (at most one) on a fresh
// database, and serves it until the test ends.
func New(t testing.TB, opts ...Options) *Client {
	t.Helper()
	require.LessOrEqual(t, len(opts), 1, "apitest.New takes at most one Options")
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = FreshDatabase(t)
	}
	if o.Clock == nil {
		o.Clock = NewClock()
	}
	var w io.Writer = testWriter{t}
	level := slog.LevelWarn
	if o.Log != nil {
		w, level = o.Log, slog.LevelDebug
	}
	queries := new(atomic.Int64)
	a, err := app.New(context.Background(), app.Config{
		DatabaseURL: o.DatabaseURL,
		EntOptions:  []ent.Option{ent.Debug(), ent.Log(func(...any) { queries.Add(1) })},
		Secret:      secret, Issuer: issuer, Audience: audience,
		AccessTTL:   or(o.AccessTTL, 15*time.Minute),
		RefreshTTL:  or(o.RefreshTTL, 720*time.Hour),
		ReuseGrace:  or(o.ReuseGrace, 10*time.Second),
		HashWorkers: o.HashWorkers, HashQueue: or(o.HashQueue, 256),
		AuthRate: o.AuthRate, AuthBurst: o.AuthBurst,
		Logger:     slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})),
		Metrics:    o.Metrics,
		Now:        o.Clock.Now,
		Production: o.Production, Limits: o.Limits,
		CORSOrigins: o.CORSOrigins, TrustedProxies: o.TrustedProxies,
	})
	require.NoError(t, err, "build the server")
	ts := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		ts.Close()
		_ = a.Close() // a test may have closed the database already
	})
	return &Client{
		URL: ts.URL, DB: a.Client, Accounts: a.Accounts, DatabaseURL: o.DatabaseURL, Clock: o.Clock,
		http: ts.Client(), opts: o, queries: queries,
	}
}

// NewInstance starts another server with c's options on c's database: a
// second instance behind a load balancer, or the same one after a restart.
// It has a clock of its own.
func (c *Client) NewInstance(t testing.TB) *Client {
	t.Helper()
	o := c.opts
	o.Clock = nil
	return New(t, o)
}

// Serve serves any handler for the test, for a test of one layer on its
// own (a GraphQL server built without a service, say); DB and Accounts are
// nil.
func Serve(t testing.TB, h http.Handler) *Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &Client{URL: ts.URL, Clock: NewClock(), http: ts.Client(), queries: new(atomic.Int64)}
}

// Connect returns a client of a server that runs elsewhere at url (the
// binary's own serve path, say), on connections of its own, which it
// keeps alive between requests like any HTTP client; DB and Accounts are
// nil.
func Connect(t testing.TB, url string) *Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{URL: url, Clock: NewClock(), http: &http.Client{Transport: tr}, queries: new(atomic.Int64)}
}

// SQLCount returns how many SQL statements the server has run so far.
func (c *Client) SQLCount() int64 { return c.queries.Load() }

// Forger returns a token forger with the server's key, claims and clock.
func (c *Client) Forger() authtest.Forger {
	return authtest.Forger{Key: secret, Issuer: issuer, Audience: audience, Now: c.Clock.Now}
}

// or returns v, or def when v is zero.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Clock is a test server's clock: it starts at the current time and moves
// only when Advance says so. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at the current time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Log collects a server log; it is safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends to the log.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the whole log.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Take returns what was written since the last Take, and forgets it.
func (l *Log) Take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// testWriter sends server logs to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// postgresEnv names the PostgreSQL server of the second pass.
const postgresEnv = "TEST_DATABASE_URL"

// postgresURL is set by Main for the PostgreSQL pass.
var postgresURL string

// Main runs a package's tests on SQLite, then, when TEST_DATABASE_URL names
// a PostgreSQL server, once more with every database on PostgreSQL, and
// exits. Use it as the package's TestMain. Each pass prints a line saying
// whether PostgreSQL ran, which CI checks.
func Main(m *testing.M) {
	code := m.Run()
	u := os.Getenv(postgresEnv)
	if u == "" {
		fmt.Println("apitest: " + postgresEnv + " is not set: the PostgreSQL pass is skipped")
		os.Exit(code)
	}
	fmt.Println("apitest: PostgreSQL pass on", database.Redact(u))
	postgresURL = u
	if c := m.Run(); c != 0 {
		code = c
	}
	os.Exit(code)
}

// FreshDatabase returns the URL of an empty database for one test: an
// SQLite file in t.TempDir(), or, in the PostgreSQL pass, a new database
// on the server, dropped when the test ends.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	// go test caches a result keyed on the environment variables the tests
	// read while they run; Main's own read comes after the first run, so
	// read the variable here too, or a cached SQLite-only result would
	// stand in for a run with PostgreSQL.
	_ = os.Getenv(postgresEnv)
	if postgresURL == "" {
		return "file:" + filepath.Join(t.TempDir(), "test.db")
	}
	admin, err := sql.Open("pgx", postgresURL)
	require.NoError(t, err)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bitgate_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err, "create test database")
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(postgresURL)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}
