// Package mailtest runs a real SMTP server on a loopback port for tests
// (emersion/go-smtp), so that mail goes over TCP as it does in
// production: in the clear for a local relay, with STARTTLS, or with TLS
// from the first byte, on a self-signed certificate that ClientTLS trusts.
// A test waits for the next mail without sleeping, reads its parts and
// links, makes the server refuse mail (4xx or 5xx), or stops it and starts
// it again on the same port:
//
//	s := mailtest.Start(t, mailtest.StartTLS)
//	cfg := settings.Default[mail.Config]()
//	cfg.SMTPURL, cfg.From = s.URL(), "no-reply@example.com"
//	m, err := mail.New(db, cfg, mail.Options{TLS: s.ClientTLS()})
//	...
//	got := s.Next(t)
//	link := got.Link(t, "/verify-email")
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Mode is how the server protects its connections.
type Mode int

// The modes of a server.
const (
	// Plain offers no TLS and no authentication: a local relay
	// (smtp://host:port?tls=none).
	Plain Mode = iota
	// StartTLS offers STARTTLS and requires authentication after it
	// (smtp://user:pass@host:port).
	StartTLS
	// ImplicitTLS speaks TLS from the first byte and requires
	// authentication (smtps://user:pass@host:port).
	ImplicitTLS
)

// The credentials the StartTLS and ImplicitTLS servers accept.
const (
	User     = "bitgate"
	Password = "test-password"
)

// Stage is the command at which Refuse refuses a mail.
type Stage string

// The stages Refuse can refuse at.
const (
	AtMail Stage = "MAIL" // MAIL FROM: the sender
	AtRcpt Stage = "RCPT" // RCPT TO: the recipient
	AtData Stage = "DATA" // the end of the message's data
)

// waitFor bounds how long Next waits: far above a delivery on a loaded
// machine, so that only a mail that never comes fails.
const waitFor = 20 * time.Second

// Server is an SMTP server on 127.0.0.1 that keeps what it receives.
type Server struct {
	mode Mode
	addr string
	cert tls.Certificate
	pool *x509.CertPool
	got  chan *Message

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener // srv's
	down     net.Listener // while stopped: holds the port, closing what comes
	refuseAt Stage
	refuse   int
	received []*Message
}

// Start starts a server in mode on a free loopback port; it stops when the
// test ends.
func Start(t testing.TB, mode Mode) *Server {
	t.Helper()
	s := &Server{mode: mode, got: make(chan *Message, 10000)}
	s.cert, s.pool = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.release)
	return s
}

// Silent returns the address of a loopback port that accepts connections
// and never says a word: an SMTP server that hangs. It closes when the
// test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL returns the SMTP_URL that reaches the server in its mode.
func (s *Server) URL() string {
	switch s.mode {
	case StartTLS:
		return "smtp://" + url.UserPassword(User, Password).String() + "@" + s.addr
	case ImplicitTLS:
		return "smtps://" + url.UserPassword(User, Password).String() + "@" + s.addr
	}
	return "smtp://" + s.addr + "?tls=none"
}

// ClientTLS returns a client TLS configuration that trusts the server's
// certificate (mail.Options.TLS).
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
}

// Refuse makes the server answer code (a 4xx or a 5xx) at stage to every
// mail from now on; a code of 0 accepts mail again.
func (s *Server) Refuse(stage Stage, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseAt, s.refuse = stage, code
}

// Stop stops the server and drops its connections: the server is down,
// and closes every connection as it comes, before a word is said. It keeps
// its port meanwhile, so that no other server (a test's running beside)
// takes it and receives the mail meant for this one.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	// Closing the listener ourselves stops a server whose Serve has not
	// started yet, which srv.Close would miss.
	_ = s.ln.Close()
	_ = s.srv.Close()
	s.srv, s.ln = nil, nil
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return // the port is gone: connections are refused
	}
	s.down = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// Restart starts the stopped server again on its port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	if s.down != nil {
		_ = s.down.Close()
		s.down = nil
	}
	s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	require.NoError(t, err, "listen on %s again", s.addr)
	s.serve(ln)
}

// release stops the server for good, and lets its port go.
func (s *Server) release() {
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil {
		_ = s.down.Close()
		s.down = nil
	}
}

// serve serves on ln.
func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s, authed: s.mode == Plain}, nil
	}))
	srv.Domain = "mailtest.localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = waitFor, waitFor
	switch s.mode {
	case StartTLS:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert}}
	case ImplicitTLS:
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.cert}})
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Next returns the next mail the server received, waiting for it; it
// fails the test if none comes.
func (s *Server) Next(t testing.TB) *Message {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(waitFor):
		require.FailNow(t, "no mail came", "waited %s", waitFor)
		return nil
	}
}

// Received returns every mail the server received so far.
func (s *Server) Received() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.received...)
}

// refusal returns the error for stage, if the server refuses there.
func (s *Server) refusal(stage Stage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == 0 || s.refuseAt != stage {
		return nil
	}
	return &smtp.SMTPError{Code: s.refuse, EnhancedCode: smtp.EnhancedCode{s.refuse / 100, 0, 0},
		Message: "refused by the test server"}
}

// session is one SMTP session.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (c *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (c *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != User || pass != Password {
			return smtp.ErrAuthFailed
		}
		c.authed = true
		return nil
	}), nil
}

func (c *session) Mail(from string, _ *smtp.MailOptions) error {
	if !c.authed {
		return smtp.ErrAuthRequired
	}
	if err := c.s.refusal(AtMail); err != nil {
		return err
	}
	c.from = from
	return nil
}

func (c *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := c.s.refusal(AtRcpt); err != nil {
		return err
	}
	c.to = append(c.to, to)
	return nil
}

func (c *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := c.s.refusal(AtData); err != nil {
		return err
	}
	m := &Message{From: c.from, To: c.to, Raw: raw}
	c.s.mu.Lock()
	c.s.received = append(c.s.received, m)
	c.s.mu.Unlock()
	c.s.got <- m
	return nil
}

func (c *session) Reset()        { c.from, c.to = "", nil }
func (c *session) Logout() error { return nil }

// Message is a mail the server received.
type Message struct {
	// From and To are the envelope's sender and recipients.
	From string
	To   []string
	// Raw is the message as it came, headers and body.
	Raw []byte
}

// Header returns the decoded value of the header name (Subject, say).
func (m *Message) Header(t testing.TB, name string) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	require.NoError(t, err, "parse the mail")
	v, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get(name))
	require.NoError(t, err, "decode the header %s", name)
	return v
}

// Parts returns the decoded parts of a multipart mail by content type
// (text/plain, text/html), failing the test if it is not multipart.
func (m *Message) Parts(t testing.TB) map[string]string {
	t.Helper()
	parts, err := Parts(m.Raw)
	require.NoError(t, err)
	return parts
}

// Text returns the decoded text part.
func (m *Message) Text(t testing.TB) string {
	t.Helper()
	return m.Parts(t)["text/plain"]
}

// Link returns the one link to path (such as /verify-email) in the text
// part, failing the test unless there is exactly one.
func (m *Message) Link(t testing.TB, path string) *url.URL {
	t.Helper()
	var found []*url.URL
	for _, l := range linkPattern.FindAllString(m.Text(t), -1) {
		u, err := url.Parse(l)
		require.NoError(t, err, "a link of the text part")
		if u.Path == path || strings.HasSuffix(u.Path, path) {
			found = append(found, u)
		}
	}
	require.Len(t, found, 1, "links to %s in the text part:\n%s", path, m.Text(t))
	return found[0]
}

// linkPattern finds the links of a text.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Parts parses a multipart mail, as it came or as a file holds it, into
// its decoded parts by content type.
func Parts(raw []byte) (map[string]string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(media, "multipart/") {
		return nil, errors.New("the mail is " + media + ", not multipart")
	}
	parts := map[string]string{}
	r := multipart.NewReader(msg.Body, params["boundary"]) // decodes quoted-printable
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(body)
	}
}

// selfSigned returns a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
