package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// The operations of the scenarios.
const (
	booksQuery = `{ books(first: 10) { edges { node { id title author } } } }`
	bookQuery  = `query($id: ID!) { book(id: $id) { id title author } }`
	signinMut  = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken } }`
	signupMut  = `mutation($in: SignupInput!) { signup(input: $in) { accessToken } }`
	countQuery = `{ books(first: 1) { totalCount edges { node { id } } } }`
	createBook = `mutation($in: CreateBookInput!) { createBook(input: $in) { id } }`
)

// checkLoopback refuses any URL whose host is not localhost, 127.0.0.0/8
// or ::1.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse -url: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("-url must be http, not %q", u.Scheme)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.Unmap().IsLoopback() {
		return fmt.Errorf("-url host %q is not a loopback address (127.0.0.0/8, ::1 or localhost): refused", host)
	}
	return nil
}

// client posts GraphQL operations to one loopback URL.
type client struct {
	url     string
	timeout time.Duration
	http    *http.Client
}

// newClient returns a client of target. Its dialer refuses any address
// that is not loopback, so a name that resolves elsewhere is refused too;
// it follows no redirects.
func newClient(target string, timeout time.Duration) *client {
	c := &client{url: target, timeout: timeout}
	c.reset(64)
	return c
}

// reset gives the client a new transport keeping up to conns connections,
// closing the old one's.
func (c *client) reset(conns int) {
	if c.http != nil {
		c.closeIdle()
	}
	dialer := &net.Dialer{
		Timeout: c.timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("refusing to dial %s: not loopback", address)
			}
			return nil
		},
	}
	c.http = &http.Client{
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: c.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// closeIdle closes the client's idle connections.
func (c *client) closeIdle() { c.http.CloseIdleConnections() }

// answer is one decoded response.
type answer struct {
	status int
	body   []byte
	code   string // the first error's extensions.code, or ""
	data   json.RawMessage
}

// post sends one operation; err is a transport failure (errTimeout when
// the client gave up waiting).
func (c *client) post(ctx context.Context, token, query string, vars map[string]any) (answer, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return answer{}, err
	}
	return c.postRaw(ctx, token, body)
}

// postRaw sends a ready JSON body.
func (c *client) postRaw(ctx context.Context, token string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return answer{}, errTimeout
		}
		return answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		if os.IsTimeout(err) {
			return answer{}, errTimeout
		}
		return answer{}, err
	}
	a := answer{status: res.StatusCode, body: raw}
	var dec struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &dec) == nil {
		a.data = dec.Data
		if len(dec.Errors) > 0 {
			a.code = dec.Errors[0].Extensions.Code
			if a.code == "" {
				a.code = "UNCODED"
			}
		}
	}
	if a.code == "" && res.StatusCode != http.StatusOK {
		a.code = fmt.Sprintf("HTTP_%d", res.StatusCode)
	}
	return a, nil
}

// op is what one connection of a scenario sends, again and again: its
// name, the client, and a function making the next request body and token.
type op struct {
	name string
	c    *client
	next func() (token string, body []byte)
}

// op returns an operation that sends the same query every time.
func (c *client) op(name, token, query string, vars map[string]any) op {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return op{name: name, c: c, next: func() (string, []byte) { return token, body }}
}

// signinOp returns a sign-in flood: a wrong password for a fresh unknown
// email (so that no lockout answers before the hash), and every 16th the
// right password for the real account.
func (c *client) signinOp(email, password string) op {
	i := 0
	return op{name: "signin", c: c, next: func() (string, []byte) {
		i++
		e, p := randomEmail("nobody"), "wrong password"
		if i%16 == 0 {
			e, p = email, password
		}
		body, _ := json.Marshal(map[string]any{"query": signinMut, "variables": map[string]any{"e": e, "p": p}})
		return "", body
	}}
}

// fixture is what the scenarios share: a signed-up user, a book and the
// server's answers, which the bare handler repeats.
type fixture struct {
	email, password string
	token           string
	bareToken       string
	bookVars        map[string]any
	booksAnswer     []byte
	bookAnswer      []byte
}

// setup signs up a user, adds books until there are s.books (as the ADMIN
// of -admin-email), and records the server's answers.
func setup(ctx context.Context, c *client, s *settings) (*fixture, error) {
	fx := &fixture{email: randomEmail("loadtest"), password: "loadtest password"}
	a, err := c.post(ctx, "", signupMut, map[string]any{"in": map[string]any{
		"firstName": "Load", "lastName": "Test", "email": fx.email, "password": fx.password,
	}})
	if err != nil || a.code != "" {
		return nil, fmt.Errorf("sign up: %v %s %s", err, a.code, a.body)
	}
	var up struct{ Signup struct{ AccessToken string } }
	if err := json.Unmarshal(a.data, &up); err != nil {
		return nil, fmt.Errorf("sign up: %w", err)
	}
	fx.token = up.Signup.AccessToken

	var count struct {
		Books struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	if a, err = c.post(ctx, fx.token, countQuery, nil); err != nil || a.code != "" {
		return nil, fmt.Errorf("count books: %v %s", err, a.body)
	}
	if err := json.Unmarshal(a.data, &count); err != nil {
		return nil, fmt.Errorf("count books: %w", err)
	}
	if missing := s.books - count.Books.TotalCount; missing > 0 {
		if err := addBooks(ctx, c, s, missing); err != nil {
			return nil, err
		}
		if a, err = c.post(ctx, fx.token, countQuery, nil); err != nil || a.code != "" {
			return nil, fmt.Errorf("count books: %v %s", err, a.body)
		}
		if err := json.Unmarshal(a.data, &count); err != nil {
			return nil, fmt.Errorf("count books: %w", err)
		}
	}
	fx.bookVars = map[string]any{"id": count.Books.Edges[0].Node.ID}

	if fx.booksAnswer, err = okBody(c.post(ctx, fx.token, booksQuery, nil)); err != nil {
		return nil, fmt.Errorf("books: %w", err)
	}
	if fx.bookAnswer, err = okBody(c.post(ctx, "", bookQuery, fx.bookVars)); err != nil {
		return nil, fmt.Errorf("book: %w", err)
	}
	return fx, nil
}

// addBooks signs in as the ADMIN and creates n books.
func addBooks(ctx context.Context, c *client, s *settings, n int) error {
	if s.adminEmail == "" {
		return fmt.Errorf("the catalogue needs %d more books: pass -admin-email and -admin-password of an ADMIN (go run . create-admin)", n)
	}
	a, err := c.post(ctx, "", signinMut, map[string]any{"e": s.adminEmail, "p": s.adminPassword})
	if err != nil || a.code != "" {
		return fmt.Errorf("sign in as %s: %v %s", s.adminEmail, err, a.body)
	}
	var in struct{ Signin struct{ AccessToken string } }
	if err := json.Unmarshal(a.data, &in); err != nil {
		return fmt.Errorf("sign in as %s: %w", s.adminEmail, err)
	}
	for i := range n {
		a, err := c.post(ctx, in.Signin.AccessToken, createBook, map[string]any{"in": map[string]any{
			"title": fmt.Sprintf("Load test book %d", i), "author": "Load Test", "publishedYear": 1900 + i%120,
		}})
		if err != nil || a.code != "" {
			return fmt.Errorf("create book: %v %s", err, a.body)
		}
	}
	return nil
}

// okBody returns the body of an answer without errors.
func okBody(a answer, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if a.code != "" {
		return nil, fmt.Errorf("%s: %s", a.code, a.body)
	}
	return a.body, nil
}
