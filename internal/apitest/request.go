package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Vars are the variables of a GraphQL operation.
type Vars = map[string]any

// Response is an answer of the server: its HTTP status, headers and raw
// body, the decoded GraphQL data and errors (for a JSON answer), and how
// long it took.
type Response struct {
	Status int
	Header http.Header
	// Close reports whether the server closed the connection after the
	// answer (Connection: close, which Go's client takes out of Header).
	Close  bool
	Body   []byte
	Took   time.Duration
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one GraphQL error of a response.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string {
	code, _ := e.Extensions["code"].(string)
	return code
}

// Field returns extensions.field: the input field of a BAD_USER_INPUT.
func (e Error) Field() string {
	field, _ := e.Extensions["field"].(string)
	return field
}

// Code returns the code of the response's first error, or "" if none.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// Do posts a GraphQL operation as JSON, with token as the bearer token
// (none if empty), and checks the answer against the rules every answer
// keeps (see Check).
func (c *Client) Do(t testing.TB, token, query string, vars Vars) *Response {
	t.Helper()
	return c.DoWithHeader(t, bearer(token), query, vars)
}

// DoWithHeader posts a GraphQL operation as JSON with the headers h (an
// Authorization header of any form, X-Forwarded-For, X-Request-ID, Host,
// …; the JSON content type unless h sets one) and checks the answer like
// Do.
func (c *Client) DoWithHeader(t testing.TB, h http.Header, query string, vars Vars) *Response {
	t.Helper()
	withJSON := Header()
	maps.Copy(withJSON, h)
	return c.Raw(t, http.MethodPost, "/graphql", withJSON, operation(t, query, vars))
}

// DoBody posts any JSON request body (documentId, extensions, …) with
// token as the bearer token (none if empty), and checks the answer like
// Do.
func (c *Client) DoBody(t testing.TB, token string, body Vars) *Response {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err, "encode request")
	return c.Raw(t, http.MethodPost, "/graphql", bearer(token), raw)
}

// Get sends a GraphQL request over GET with the URL parameters params
// (query, variables, extensions, documentId, …) and token as the bearer
// token (none if empty), and checks the answer like Do.
func (c *Client) Get(t testing.TB, token string, params url.Values) *Response {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return c.Raw(t, http.MethodGet, "/graphql?"+params.Encode(), h, nil)
}

// Raw sends any request (method, path, headers and body as given, no
// Content-Type added) and checks the answer like Do.
func (c *Client) Raw(t testing.TB, method, path string, h http.Header, body []byte) *Response {
	t.Helper()
	r, err := c.Send(method, path, h, body)
	require.NoError(t, err, "%s %s", method, path)
	check(t, path, r)
	return r
}

// Post posts a GraphQL operation like Do, but without a testing.TB, so that
// goroutines may call it; Concurrently checks its answers.
func (c *Client) Post(token, query string, vars Vars) (*Response, error) {
	return c.PostContext(context.Background(), token, query, vars)
}

// PostContext is Post with a context: a client that gives up (hangs up)
// when ctx ends.
func (c *Client) PostContext(ctx context.Context, token, query string, vars Vars) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return c.send(ctx, http.MethodPost, "/graphql", bearer(token), body)
}

// HangUp sends an operation that the server must not answer within after
// (it waits on a locked database, say), and hangs up then, as a client
// that gives up does.
func (c *Client) HangUp(t testing.TB, after time.Duration, token, query string, vars Vars) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), after)
	defer cancel()
	r, err := c.PostContext(ctx, token, query, vars)
	require.ErrorIs(t, err, context.DeadlineExceeded, "answered before the client hung up: %+v", r)
}

// Concurrently calls send(0) … send(n-1) on n goroutines released at once,
// then, on the test's goroutine, requires each to have been answered and
// checks the answers like Do. send must not use a testing.TB (Post does
// not).
func Concurrently(t testing.TB, n int, send func(i int) (*Response, error)) []*Response {
	t.Helper()
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
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		check(t, "/graphql", r)
	}
	return results
}

// CountCodes counts answers by their first error code ("" for a success).
func CountCodes(answers []*Response) map[string]int {
	count := map[string]int{}
	for _, r := range answers {
		count[r.Code()]++
	}
	return count
}

// Header returns a header of key and value pairs, with the JSON content
// type unless it names another.
func Header(keyValues ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(keyValues); i += 2 {
		h.Set(keyValues[i], keyValues[i+1])
	}
	return h
}

// bearer returns the JSON content type and, for a token, its
// Authorization header.
func bearer(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// operation encodes a GraphQL request body.
func operation(t testing.TB, query string, vars Vars) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err, "encode request")
	return body
}

// Send makes one request like Raw and reads its answer, but checks
// nothing and needs no testing.TB: for a fuzz test, whose input an answer
// may rightly echo, to check in its own way.
func (c *Client) Send(method, path string, h http.Header, body []byte) (*Response, error) {
	return c.send(context.Background(), method, path, h, body)
}

// send makes one request within ctx and reads its answer.
func (c *Client) send(ctx context.Context, method, path string, h http.Header, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if host := h.Get("Host"); host != "" { // Go sends req.Host, not the header
		req.Host = host
	}
	start := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	r := &Response{Status: res.StatusCode, Header: res.Header, Close: res.Close, Body: raw, Took: time.Since(start)}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", raw, err)
		}
	}
	return r, nil
}

// Codes are the error codes the contract allows.
var Codes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "BAD_USER_INPUT": true, "NOT_FOUND": true,
	"CONFLICT": true, "RATE_LIMITED": true, "SERVICE_UNAVAILABLE": true, "INTERNAL_SERVER_ERROR": true,
	"GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true, "COMPLEXITY_LIMIT_EXCEEDED": true,
	"PERSISTED_QUERY_NOT_FOUND": true, "PERSISTED_QUERY_NOT_IN_LIST": true,
}

// Reasons are the contract's values of extensions.reason, and the code
// each goes with.
var Reasons = map[string]string{
	"TOKEN_EXPIRED": "UNAUTHENTICATED", "EMAIL_NOT_VERIFIED": "FORBIDDEN", "MAIL_DISABLED": "FORBIDDEN",
	"MFA_REQUIRED": "FORBIDDEN",
}

// leaks are what no answer may hold: password hashes, their column's
// names, stack traces.
var leaks = []string{"$argon2id$", "$2a$", "$2b$", "$2y$", "password_hash", "passwordHash", "goroutine ", ".go:"}

// check holds an answer to the rules every answer keeps: no 5xx (but from
// /readyz, whose 503 says the database is down, and a 503 that holds only
// SERVICE_UNAVAILABLE, see RequireUnavailable), nothing of leaks, every
// error with a contract code, BAD_USER_INPUT with a field, RATE_LIMITED
// and SERVICE_UNAVAILABLE with a whole number of seconds in retryAfter, a
// reason only of Reasons and with its code, and a requiredPermission
// only on FORBIDDEN (a Permission), an internal error without detail, no
// data for a request refused before it ran (an error without a path), and
// no data under a root field that failed.
func check(t testing.TB, path string, r *Response) {
	t.Helper()
	switch {
	case path == "/readyz":
	case r.Status == http.StatusServiceUnavailable:
		requireUnavailableStatus(t, r)
	default:
		require.Less(t, r.Status, 500, "5xx answer: %s", r.Body)
	}
	for _, leak := range leaks {
		require.NotContains(t, string(r.Body), leak, "response leaks %q", leak)
	}
	for _, e := range r.Errors {
		code := e.Code()
		require.True(t, Codes[code], "error without a contract code: %+v", e)
		switch code {
		case "BAD_USER_INPUT":
			require.NotEmpty(t, e.Field(), "BAD_USER_INPUT without field: %+v", e)
		case "RATE_LIMITED", "SERVICE_UNAVAILABLE":
			after, ok := e.Extensions["retryAfter"].(float64)
			require.True(t, ok, "%s without a numeric retryAfter: %+v", code, e)
			require.Equal(t, float64(int(after)), after, "retryAfter is not whole seconds: %+v", e)
			require.Positive(t, after, "retryAfter: %+v", e)
		case "INTERNAL_SERVER_ERROR":
			require.Equal(t, "internal server error", e.Message)
		}
		if reason, ok := e.Extensions["reason"]; ok {
			require.True(t, Reasons[reason.(string)] == code, "unknown reason: %+v", e)
		}
		if perm, ok := e.Extensions["requiredPermission"]; ok {
			require.True(t, code == "FORBIDDEN" && Permissions[perm.(string)] != 0, "unknown requiredPermission: %+v", e)
		}
		switch len(e.Path) {
		case 0: // refused before it ran
			require.Contains(t, []string{"", "null"}, string(r.Data), "a refused request answered data: %s", r.Body)
		case 1:
			field, _ := e.Path[0].(string)
			require.Equal(t, "null", rootField(t, r, field), "%s failed with %s but answered data: %s", field, code, r.Body)
		}
	}
}

// rootField returns data.<field> of r as JSON text: "null" when data or
// the field is null or missing.
func rootField(t testing.TB, r *Response, field string) string {
	t.Helper()
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return "null"
	}
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Data, &m), "decode data %s", r.Data)
	v, ok := m[field]
	if !ok {
		return "null"
	}
	return string(v)
}

// RequireCode requires r to have failed with code: at least one error,
// each carrying code, and, with field given, the first one naming that
// input field in extensions.field (for BAD_USER_INPUT). It returns the
// first error.
func RequireCode(t testing.TB, r *Response, code string, field ...string) Error {
	t.Helper()
	require.NotEmpty(t, r.Errors, "want %s, got no error: %s", code, r.Body)
	for _, e := range r.Errors {
		require.Equal(t, code, e.Code(), "error code in %s", r.Body)
	}
	require.LessOrEqual(t, len(field), 1, "RequireCode takes at most one field")
	if len(field) == 1 {
		require.Equal(t, field[0], r.Errors[0].Field(), "extensions.field in %s", r.Body)
	}
	return r.Errors[0]
}

// RequireNoDataEntry requires an answer without a data entry, as the
// GraphQL spec asks of an error raised before execution.
func RequireNoDataEntry(t testing.TB, r *Response) {
	t.Helper()
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body, &top), "%s", r.Body)
	require.NotContains(t, top, "data", "a request error with a data entry: %s", r.Body)
}

// RequireUnavailable requires r to say that the server cannot serve now:
// every error SERVICE_UNAVAILABLE, and, since no root field answered, HTTP
// 503 with a Retry-After header equal to retryAfter. It returns the first
// error.
func RequireUnavailable(t testing.TB, r *Response) Error {
	t.Helper()
	e := RequireCode(t, r, "SERVICE_UNAVAILABLE")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "status of %s", r.Body)
	return e
}

// requireUnavailableStatus requires a 503 answer to hold nothing but
// SERVICE_UNAVAILABLE errors, no data, and Retry-After equal to their
// largest retryAfter.
func requireUnavailableStatus(t testing.TB, r *Response) {
	t.Helper()
	require.NotEmpty(t, r.Errors, "503 without errors: %s", r.Body)
	after := 0.0
	for _, e := range r.Errors {
		require.Equal(t, "SERVICE_UNAVAILABLE", e.Code(), "503 with another error: %s", r.Body)
		n, _ := e.Extensions["retryAfter"].(float64)
		after = max(after, n)
	}
	var data map[string]any
	if len(r.Data) > 0 {
		require.NoError(t, json.Unmarshal(r.Data, &data), "decode data %s", r.Data)
	}
	for field, v := range data {
		require.Nil(t, v, "503 with data under %s: %s", field, r.Body)
	}
	require.Equal(t, fmt.Sprint(after), r.Header.Get("Retry-After"), "Retry-After of %s", r.Body)
}

// RequireTransportError requires a refusal by the HTTP layer: status (any
// 4xx when 0), a JSON body with an errors array, and no data.
func RequireTransportError(t testing.TB, r *Response, status int) {
	t.Helper()
	if status != 0 {
		require.Equal(t, status, r.Status, "status of %s", r.Body)
	} else {
		require.True(t, r.Status >= 400 && r.Status < 500, "status %d, want 4xx: %s", r.Status, r.Body)
	}
	require.Contains(t, r.Header.Get("Content-Type"), "json", "refusal is not JSON: %s", r.Body)
	require.NotEmpty(t, r.Errors, "refusal without errors: %s", r.Body)
	require.Contains(t, []string{"", "null"}, string(r.Data), "refusal with data: %s", r.Body)
}

// Data requires r to have succeeded and decodes data.<field> into a T.
func Data[T any](t testing.TB, r *Response, field string) T {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected errors in %s", r.Body)
	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Data, &data), "decode data %s", r.Body)
	raw, ok := data[field]
	require.True(t, ok, "no %s in %s", field, r.Body)
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), "decode %s: %s", field, raw)
	return v
}
