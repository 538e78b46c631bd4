// Package apitest runs the real HTTP handler over a real database for
// tests, and speaks GraphQL to it over HTTP.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/auth"
	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/database"
	"bitgate/internal/ratelimit"
)

// Secret is the signing key of test servers, for tests that forge tokens.
var Secret = []byte("test-secret-0123456789abcdef0123456789")

// Issuer and Audience are the claims test servers expect.
const (
	Issuer   = "bitgate-test"
	Audience = "bitgate-test-api"
)

// Options change a test server; the zero value is the contract's defaults.
type Options struct {
	AccessTTL  time.Duration // default 15m
	RefreshTTL time.Duration // default 720h
	ReuseGrace time.Duration // default 10s
	Production bool
	// DatabaseURL shares a database between servers; empty means a fresh
	// SQLite file in t.TempDir().
	DatabaseURL string
	// Limiter limits signin, signup and refresh per address; nil: none.
	Limiter *ratelimit.Limiter
	// Hasher hashes passwords; nil: a pool of one hash per CPU.
	Hasher *auth.Hasher
	// Handler settings passed through as they are.
	Limits         graph.Limits
	CORSOrigins    []string
	TrustedProxies []netip.Prefix
	// LogWriter, if set, receives the server log at every level (debug
	// included) instead of the test log, for tests that inspect it.
	LogWriter io.Writer
}

// Server is a running test server.
type Server struct {
	URL      string
	Client   *ent.Client
	Accounts *account.Service
	Tokens   *auth.Tokens
	DBURL    string
	HTTP     *http.Client

	queries    atomic.Int64
	statements sync.Map // SQL text → struct{}
}

// SQLCount returns how many SQL statements the server has run so far.
func (s *Server) SQLCount() int64 { return s.queries.Load() }

// Statements returns the distinct SQL statements the server has run so
// far, sorted, as ent's debug log gives them (without their arguments).
func (s *Server) Statements() []string {
	var out []string
	s.statements.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	slices.Sort(out)
	return out
}

// record keeps the SQL text of one line of ent's debug log:
// "driver.Query: query=SELECT … args=[…]".
func (s *Server) record(line string) {
	_, q, ok := strings.Cut(line, " query=")
	if i := strings.LastIndex(q, " args=["); ok && i >= 0 {
		s.statements.LoadOrStore(q[:i], struct{}{})
	}
}

// New starts the real handler on an httptest server over a fresh database;
// both are closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AccessTTL == 0 {
		opts.AccessTTL = 15 * time.Minute
	}
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = 720 * time.Hour
	}
	if opts.ReuseGrace == 0 {
		opts.ReuseGrace = 10 * time.Second
	}
	dbURL := opts.DatabaseURL
	if dbURL == "" {
		dbURL = FreshDatabase(t)
	}
	srv := &Server{}
	client, err := database.Open(context.Background(), dbURL, database.Pool{},
		ent.Debug(), ent.Log(func(v ...any) {
			srv.queries.Add(1)
			srv.record(fmt.Sprint(v...))
		}))
	require.NoError(t, err, "open database")
	t.Cleanup(func() { client.Close() })

	var logTo io.Writer = testWriter{t}
	logLevel := slog.LevelWarn
	if opts.LogWriter != nil {
		logTo, logLevel = opts.LogWriter, slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: logLevel}))
	tokens := auth.NewTokens(Secret, Issuer, Audience, opts.AccessTTL)
	if opts.Hasher == nil {
		opts.Hasher = auth.NewHasher(0, 256)
		t.Cleanup(opts.Hasher.Close)
	}
	accounts := account.NewService(client, tokens, opts.Hasher, account.Options{
		RefreshTTL: opts.RefreshTTL, ReuseGrace: opts.ReuseGrace, Logger: log, Limiter: opts.Limiter,
	})
	h := graph.NewHandler(graph.HandlerConfig{
		Client: client, Accounts: accounts, Logger: log, Production: opts.Production,
		Limits: opts.Limits, CORSOrigins: opts.CORSOrigins, TrustedProxies: opts.TrustedProxies,
	})
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	*srv = Server{URL: ts.URL, Client: client, Accounts: accounts, Tokens: tokens, DBURL: dbURL, HTTP: ts.Client()}
	return srv
}

// postgresURL is set by Main for the PostgreSQL pass.
var postgresURL string

// Main runs a package's tests on SQLite, then, when TEST_DATABASE_URL names
// a PostgreSQL server, once more with every test server on PostgreSQL. Use
// it as the package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		fmt.Println("apitest: TEST_DATABASE_URL is not set: the PostgreSQL pass is skipped")
		return code
	}
	fmt.Println("apitest: PostgreSQL pass on", database.Redact(u))
	postgresURL = u
	if c := m.Run(); c != 0 {
		code = c
	}
	return code
}

// Exit runs Main and exits with its code: a whole TestMain.
func Exit(m *testing.M) { os.Exit(Main(m)) }

// FreshDatabase returns the URL of an empty database for one test: an
// SQLite file in t.TempDir(), or, in the PostgreSQL pass, a new database
// on the server, dropped when the test ends.
func FreshDatabase(t testing.TB) string {
	t.Helper()
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

// testWriter sends server logs to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Error is one GraphQL error of a response.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Response is a decoded GraphQL response with its HTTP status, raw body
// and how long it took.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Took   time.Duration
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Code returns extensions.code of the first error, or "" if none.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// Decode unmarshals data into v, failing the test if the response has errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected errors in %s", r.Body)
	require.NoError(t, json.Unmarshal(r.Data, v), "decode data %s", r.Data)
}

// Check holds a response of Post to the rules Query and Raw check.
func (r *Response) Check(t testing.TB) {
	t.Helper()
	checkContract(t, "/graphql", r)
}

// Query posts a GraphQL operation with an optional bearer token.
func (s *Server) Query(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	r, err := s.Post(token, query, vars)
	require.NoError(t, err, "post %s", query)
	r.Check(t)
	return r
}

// Post posts a GraphQL operation with an optional bearer token without a
// testing.TB, so that goroutines may call it; check the answer on the test
// goroutine with Check.
func (s *Server) Post(token, query string, vars map[string]any) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return s.send(http.MethodPost, "/graphql", h, body)
}

// Raw sends any request to the server and decodes a JSON answer if there is one.
func (s *Server) Raw(t testing.TB, method, path string, h http.Header, body []byte) *Response {
	t.Helper()
	r, err := s.send(method, path, h, body)
	require.NoError(t, err, "%s %s", method, path)
	checkContract(t, path, r)
	return r
}

// send makes one request and reads its answer.
func (s *Server) send(method, path string, h http.Header, body []byte) (*Response, error) {
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	start := time.Now()
	res, err := s.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	r := &Response{Status: res.StatusCode, Header: res.Header, Body: raw, Took: time.Since(start)}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", raw, err)
		}
	}
	return r, nil
}

// Codes are the error codes the contract allows.
var Codes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "BAD_USER_INPUT": true, "NOT_FOUND": true,
	"CONFLICT": true, "RATE_LIMITED": true, "INTERNAL_SERVER_ERROR": true,
	"GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true, "COMPLEXITY_LIMIT_EXCEEDED": true,
}

// checkContract holds every response to the rules that apply to all of
// them: no 5xx (but from /readyz, whose 503 says the database is down), no
// password hash, every error coded, BAD_USER_INPUT with a field,
// RATE_LIMITED with retryAfter.
func checkContract(t testing.TB, path string, r *Response) {
	t.Helper()
	if path != "/readyz" {
		require.Less(t, r.Status, 500, "5xx answer: %s", r.Body)
	}
	for _, leak := range []string{"$argon2id$", "$2a$", "$2b$", "$2y$", "password_hash", "passwordHash", "goroutine ", ".go:"} {
		require.NotContains(t, string(r.Body), leak, "response leaks %q", leak)
	}
	for _, e := range r.Errors {
		code, _ := e.Extensions["code"].(string)
		require.True(t, Codes[code], "error without a contract code: %+v", e)
		switch code {
		case "BAD_USER_INPUT":
			require.NotEmpty(t, e.Extensions["field"], "BAD_USER_INPUT without field: %+v", e)
		case "RATE_LIMITED":
			require.NotNil(t, e.Extensions["retryAfter"], "RATE_LIMITED without retryAfter: %+v", e)
		case "INTERNAL_SERVER_ERROR":
			require.Equal(t, "internal server error", e.Message)
		}
	}
}

// Payload is an AuthPayload as the API returns it.
type Payload struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	User         User   `json:"user"`
}

// User is a User as the API returns it.
type User struct {
	ID              string   `json:"id"`
	FirstName       string   `json:"firstName"`
	LastName        string   `json:"lastName"`
	Email           string   `json:"email"`
	PermissionLevel int      `json:"permissionLevel"`
	Permissions     []string `json:"permissions"`
}

// PayloadFields selects every field of an AuthPayload.
const PayloadFields = `accessToken refreshToken tokenType expiresIn user { id firstName lastName email permissionLevel permissions }`

// Password is the password of users made by Signup and User.
const Password = "correct horse battery"

// Signup signs up a FREE user with Password through the API.
func (s *Server) Signup(t testing.TB, email string) Payload {
	t.Helper()
	var out struct{ Signup Payload }
	s.Query(t, "", `mutation($in: SignupInput!) { signup(input: $in) { `+PayloadFields+` } }`, map[string]any{
		"in": map[string]any{"firstName": "Test", "lastName": "User", "email": email, "password": Password},
	}).Decode(t, &out)
	return out.Signup
}

// Signin signs in through the API.
func (s *Server) Signin(t testing.TB, email, password string) Payload {
	t.Helper()
	var out struct{ Signin Payload }
	s.Query(t, "", `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { `+PayloadFields+` } }`,
		map[string]any{"e": email, "p": password}).Decode(t, &out)
	return out.Signin
}

// User creates a user with the given permission level directly through the
// service (as create-admin does) and signs them in through the API.
func (s *Server) User(t testing.TB, email string, level int) Payload {
	t.Helper()
	_, err := s.Accounts.CreateUser(context.Background(), account.CreateUserInput{
		FirstName: "Test", LastName: "User", Email: email, Password: Password, PermissionLevel: &level,
	})
	require.NoError(t, err, "create user %s", email)
	return s.Signin(t, email, Password)
}

// Concurrently calls send(0) … send(n-1) on n goroutines released at once,
// and returns their answers and errors by index. send must not use a
// testing.TB (Post does not).
func Concurrently(n int, send func(i int) (*Response, error)) ([]*Response, []error) {
	results, errs := make([]*Response, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = send(i)
		})
	}
	close(start)
	wg.Wait()
	return results, errs
}
