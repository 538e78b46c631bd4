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
	"cmp"
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
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/app"
	"bitgate/internal/auth/authtest"
	"bitgate/internal/database"
	"bitgate/internal/keys"
	"bitgate/internal/mail"
	"bitgate/internal/mail/mailtest"
	"bitgate/internal/metrics"
)

// The signing keys and claims of test servers.
var (
	secret   = []byte("test-secret-0123456789abcdef0123456789")
	kek      = []byte("test-kek-0123456789abcdef0123456")
	totpKey  = []byte("test-totp-kek-0123456789abcdef01")
	issuer   = "bitgate-test"
	audience = "bitgate-test-api"
)

// Options change a test server; the zero value is the binary's defaults
// (app.Defaults) with the test defaults below and no per-address limit.
// The fields are the settings tests change most; Config reaches any
// other.
type Options struct {
	// AccessTTL, RefreshTTL and ReuseGrace default to the server's.
	AccessTTL, RefreshTTL, ReuseGrace time.Duration
	// AuditRetention is how long Prune keeps audit events (0: forever).
	AuditRetention time.Duration
	Production     bool
	// DatabaseURL shares a database between servers (see NewInstance);
	// empty means a fresh one with the current schema.
	DatabaseURL string
	// AuthRate and AuthBurst limit signin, signup and refresh per client
	// address; AuthRate 0 means no limit.
	AuthRate  float64
	AuthBurst int
	// HashWorkers is the hashing pool's size (0: one per CPU); HashQueue
	// how many callers may wait for it (0: 256, negative: none).
	HashWorkers, HashQueue int
	// RequestTimeout and DBTimeout bound a request and a database call
	// (0: 30s both, above the server's 5s default for a call: a test
	// machine under load is slow, not down; outage tests set their own).
	RequestTimeout, DBTimeout time.Duration
	// Limits' non-zero fields, CORSOrigins, TrustedProxies and the
	// persisted documents go to the server as they are.
	Limits                 graph.Limits
	CORSOrigins            []string
	TrustedProxies         []netip.Prefix
	PersistedDocuments     []string
	PersistedDocumentsOnly bool
	// Secret is the HS256 key; nil means the test servers' own.
	// PreviousSecret, if set, is the one it replaced (JWT_SECRET_PREVIOUS).
	Secret, PreviousSecret []byte
	// EdDSA signs with Ed25519 keys in the database instead of HS256;
	// Keys tunes them.
	EdDSA bool
	Keys  keys.Options
	// Config, if set, changes the server's configuration last, after the
	// fields above: any setting, as the binary's flags and environment
	// would (c.HTTP.MaxInFlight = 4, say).
	Config func(c *app.Config)
	// Clock is the server's clock; nil means a new one at the current time.
	Clock *Clock
	// Log, if set, receives the server log at every level instead of the
	// test log (which gets warnings and errors).
	Log *Log
	// Metrics, if set, receives the server's metrics.
	Metrics *metrics.Metrics
	// Mail starts a real SMTP server for the test (Client.Mail), points
	// SMTP_URL at it, with PUBLIC_URL at PublicURL, and runs the mail
	// sender, so that a test reads the server's mail with c.Mail.Next(t).
	// Without it, mail is queued in the outbox and never sent (in
	// production, mail is disabled).
	Mail bool
	// MailSenderOff, with Mail, runs no mail sender: mail is queued and
	// stays in the outbox, as in a process killed before its sender ran.
	MailSenderOff bool

	// mailServer is the SMTP server of Mail, shared by NewInstance.
	mailServer *mailtest.Server
}

// PublicURL is PUBLIC_URL on test servers with Options.Mail: the base of
// the links in their mail.
const PublicURL = "https://app.example.test"

// config returns the server's configuration for o, whose DatabaseURL,
// Secret and Clock are set: app.Defaults, then the test defaults, then
// o's fields that are set, then o.Config.
func (o Options) config(log *slog.Logger, sql *sqlLog) app.Config {
	c := app.Defaults()
	c.DatabaseURL, c.Logger, c.Metrics, c.Now = o.DatabaseURL, log, o.Metrics, o.Clock.Now
	c.Database.EntOptions = []ent.Option{ent.Debug(), ent.Log(sql.record)}
	c.Database.CallTimeout, c.HTTP.RequestTimeout = cmp.Or(o.DBTimeout, 30*time.Second), cmp.Or(o.RequestTimeout, 30*time.Second)
	c.Tokens.Issuer, c.Tokens.Audience = issuer, audience
	c.Tokens.AccessTTL = cmp.Or(o.AccessTTL, c.Tokens.AccessTTL)
	c.Accounts.RefreshTTL = cmp.Or(o.RefreshTTL, c.Accounts.RefreshTTL)
	c.Accounts.ReuseGrace = cmp.Or(o.ReuseGrace, c.Accounts.ReuseGrace)
	c.Accounts.AuditRetention = o.AuditRetention
	c.Hashing.Workers, c.Hashing.Queue = cmp.Or(o.HashWorkers, runtime.NumCPU()), cmp.Or(o.HashQueue, 256)
	c.RateLimit.Rate, c.RateLimit.Burst = o.AuthRate, o.AuthBurst
	c.Signing.Secret, c.Signing.PreviousSecret = o.Secret, o.PreviousSecret
	c.TOTPKey = totpKey
	if o.EdDSA {
		c.Signing = app.Signing{Alg: "EdDSA", KEK: kek, Keys: o.Keys}
	}
	if o.Production {
		c.Env = "production"
	}
	l := &c.GraphQL
	l.MaxDepth, l.MaxComplexity = cmp.Or(o.Limits.MaxDepth, l.MaxDepth), cmp.Or(o.Limits.MaxComplexity, l.MaxComplexity)
	l.MaxAuthFields, l.MaxFields = cmp.Or(o.Limits.MaxAuthFields, l.MaxAuthFields), cmp.Or(o.Limits.MaxFields, l.MaxFields)
	c.HTTP.CORSOrigins, c.HTTP.TrustedProxies = o.CORSOrigins, o.TrustedProxies
	c.Documents = app.Documents{Files: o.PersistedDocuments, Only: o.PersistedDocumentsOnly}
	switch {
	case o.mailServer != nil:
		c.Mail.SMTPURL, c.Mail.From, c.Mail.PublicURL = o.mailServer.URL(), "Bitgate Test <no-reply@example.test>", PublicURL
	case o.Production:
		c.Mail.Disabled = true
	}
	if o.Config != nil {
		o.Config(&c)
	}
	return c
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
	// Keys are the server's signing keys with EdDSA; nil with HS256.
	Keys *keys.Store
	// DatabaseURL is where DB lives (see NewInstance).
	DatabaseURL string
	// Clock is the server's clock.
	Clock *Clock
	// Handler is the server's whole HTTP handler, for benchmarks that call
	// it in-process, without a client or a connection.
	Handler http.Handler
	// Mail is the SMTP server that receives the server's mail, with
	// Options.Mail; Mailer is the server's mail path, whose sender a test
	// that moved the clock past a retry wakes (Mailer.Poke).
	Mail   *mailtest.Server
	Mailer *mail.Mailer

	http *http.Client
	opts Options
	sql  *sqlLog
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
		o.DatabaseURL = migratedDatabase(t)
	}
	if o.Clock == nil {
		o.Clock = NewClock()
	}
	var w io.Writer = testWriter{t}
	level := slog.LevelWarn
	if o.Log != nil {
		w, level = o.Log, slog.LevelDebug
	}
	sql := new(sqlLog)
	if o.Secret == nil {
		o.Secret = secret
	}
	if o.Mail && o.mailServer == nil {
		o.mailServer = mailtest.Start(t, mailtest.Plain)
	}
	cfg := o.config(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), sql)
	cfg.MailDir = t.TempDir()
	a, err := app.New(context.Background(), cfg)
	require.NoError(t, err, "build the server")
	ts := httptest.NewServer(a.Handler)
	sender, stopSender := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	if o.Mail && !o.MailSenderOff {
		sending.Go(func() { a.Mailer.Run(sender) })
	}
	t.Cleanup(func() {
		ts.Close()
		stopSender()
		sending.Wait()
		_ = a.Close() // a test may have closed the database already
	})
	return &Client{
		URL: ts.URL, DB: a.Client, Accounts: a.Accounts, Keys: a.Keys, DatabaseURL: o.DatabaseURL, Clock: o.Clock,
		Handler: a.Handler, Mail: o.mailServer, Mailer: a.Mailer, http: ts.Client(), opts: o, sql: sql,
	}
}

// NewInstance starts another server with c's options, database, clock
// and SMTP server, changed by change if given: a second instance behind a
// load balancer, or the same one after a restart.
func (c *Client) NewInstance(t testing.TB, change ...func(o *Options)) *Client {
	t.Helper()
	o := c.opts
	for _, f := range change {
		f(&o)
	}
	return New(t, o)
}

// Serve serves any handler for the test, for a test of one layer on its
// own (a GraphQL server built without a service, say); DB and Accounts are
// nil.
func Serve(t testing.TB, h http.Handler) *Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &Client{URL: ts.URL, Clock: NewClock(), http: ts.Client(), sql: new(sqlLog)}
}

// Connect returns a client of a server that runs elsewhere at url (the
// binary's own serve path, say), on connections of its own, which it
// keeps alive between requests like any HTTP client; DB and Accounts are
// nil.
func Connect(t testing.TB, url string) *Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{URL: url, Clock: NewClock(), http: &http.Client{Transport: tr}, sql: new(sqlLog)}
}

// SQLCount returns how many SQL statements the server has run so far.
func (c *Client) SQLCount() int64 { return c.sql.count.Load() }

// Statements returns the distinct SQL statements the server has run so
// far, sorted, as ent's debug log gives them (without their arguments).
func (c *Client) Statements() []string {
	var out []string
	c.sql.statements.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	slices.Sort(out)
	return out
}

// sqlLog counts the statements of ent's debug log and keeps their text.
type sqlLog struct {
	count      atomic.Int64
	statements sync.Map // SQL text → struct{}
}

// record takes one line of ent's debug log:
// "driver.Query: query=SELECT … args=[…]".
func (l *sqlLog) record(v ...any) {
	l.count.Add(1)
	line, ok := v[0].(string)
	if len(v) != 1 || !ok {
		line = fmt.Sprint(v...)
	}
	_, q, ok := strings.Cut(line, " query=")
	if i := strings.LastIndex(q, " args=["); ok && i >= 0 {
		l.statements.LoadOrStore(q[:i], struct{}{})
	}
}

// Forger returns a token forger with the server's key, claims and clock.
func (c *Client) Forger() authtest.Forger {
	return authtest.Forger{Key: c.opts.Secret, Issuer: issuer, Audience: audience, Now: c.Clock.Now}
}

// Clock is a test server's clock: it starts at the current time and moves
// only when Advance says so. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at the current time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// NewClockAt returns a Clock at t, in t's location: a server whose clock
// reads times in another zone, as a server in that zone would.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

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

// Await waits until the log has a line holding s (the server may still be
// finishing a request its client left) and returns that line.
func (l *Log) Await(t testing.TB, s string) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(l.String(), "\n") {
			if strings.Contains(line, s) {
				found = line
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no log line with %q in:\n%s", s, l)
	return found
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
	if _, err := url.Parse(u); err != nil {
		fmt.Println("apitest: "+postgresEnv+":", err)
		os.Exit(2)
	}
	fmt.Println("apitest: PostgreSQL pass on", database.Redact(u))
	postgresURL = u
	if c := m.Run(); c != 0 {
		code = c
	}
	if err := dropTemplate(); err != nil {
		fmt.Println("apitest:", err)
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
	return postgresDatabase(t, "")
}

// migratedDatabase returns the URL of a database for one test that holds
// the current schema: a copy of a template migrated once per pass, which
// is several times faster than migrating each test's database. (The
// server's start still runs the migrations, and finds nothing to do.)
func migratedDatabase(t testing.TB) string {
	t.Helper()
	_ = os.Getenv(postgresEnv) // see FreshDatabase
	if postgresURL == "" {
		file, err := sqliteTemplate()
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "test.db")
		require.NoError(t, os.WriteFile(path, file, 0o600), "copy the template database")
		return "file:" + path
	}
	name, err := postgresTemplate()
	require.NoError(t, err)
	return postgresDatabase(t, name)
}

// sqliteTemplate is the file of a migrated SQLite database.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "bitgate-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	if err := migrate("file:" + path); err != nil {
		return nil, err
	}
	return os.ReadFile(path) // closing the last connection checkpointed the WAL
})

// postgresTemplate is the name of a migrated database on the PostgreSQL
// server of the pass; Main drops it.
var postgresTemplate = sync.OnceValues(func() (string, error) {
	name := randomName("bitgate_template_")
	if err := adminExec("CREATE DATABASE " + name); err != nil {
		return "", fmt.Errorf("create template database: %w", err)
	}
	templateName = name
	return name, migrate(databaseURL(name))
})

// templateName is the template postgresTemplate made, if any.
var templateName string

// dropTemplate drops the PostgreSQL template database, if one was made.
func dropTemplate() error {
	if templateName == "" {
		return nil
	}
	return adminExec("DROP DATABASE " + templateName + " WITH (FORCE)")
}

// migrate opens the database at u, which migrates it, and closes it.
func migrate(u string) error {
	db, err := database.Open(context.Background(), u, database.Options{})
	if err != nil {
		return err
	}
	return db.Close()
}

// postgresDatabase creates a database for one test on the PostgreSQL
// server of the pass, a copy of template (empty if ""), and drops it when
// the test ends.
func postgresDatabase(t testing.TB, template string) string {
	t.Helper()
	name := randomName("bitgate_test_")
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	require.NoError(t, adminExec(create), "create test database")
	t.Cleanup(func() {
		if err := adminExec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return databaseURL(name)
}

// adminExec runs one statement on the PostgreSQL server of the pass.
func adminExec(stmt string) error {
	admin, err := sql.Open("pgx", postgresURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec(stmt)
	return err
}

// databaseURL is the URL of database name on the PostgreSQL server of the
// pass.
func databaseURL(name string) string {
	u, err := url.Parse(postgresURL)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", postgresEnv, err)) // Main checked it parses
	}
	u.Path = "/" + name
	return u.String()
}

// randomName returns prefix and 12 random hex digits.
func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
