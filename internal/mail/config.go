package mail

import (
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Config holds the mail settings. Each tagged field is a setting with its
// flag, environment variable, default and help (read by the application's
// configuration layer); SMTPURL, which may hold a password, is read from
// the environment only. The tags are the only declaration of the
// defaults: code that builds a Config without flags starts from
// settings.Default[Config]().
type Config struct {
	// SMTPURL says where mail goes: smtps://user:pass@host:465 (TLS from
	// the first byte), smtp://user:pass@host:587 (STARTTLS, required: a
	// server that does not offer it is refused), or smtp://host:25?tls=none
	// (no TLS, no credentials: a relay on the same host or network only).
	// Without it, mail goes to files in development (see Options.Dir), and
	// production refuses to start unless Disabled.
	SMTPURL string `env:"SMTP_URL" help:"where mail goes: smtps://user:pass@host:465, smtp://user:pass@host:587 (STARTTLS required) or smtp://host:25?tls=none (a local relay)"`
	// From is the sender, "Name <address>" or an address; required with
	// SMTPURL.
	From string `flag:"mail-from" env:"MAIL_FROM" help:"sender of account mail, such as \"Example <no-reply@example.com>\""`
	// PublicURL is the base of every link in a mail: the address of the
	// frontend that hosts /verify-email, /reset-password and
	// /confirm-email-change. Links are never built from a request's Host or
	// forwarded headers. Required in production (https), unless mail is
	// disabled; in development it defaults to DevPublicURL.
	PublicURL string `flag:"public-url" env:"PUBLIC_URL" help:"base URL of the links in mail: the frontend that hosts /verify-email, /reset-password and /confirm-email-change"`
	// Disabled turns mail off: the server starts without SMTPURL, Queue
	// answers ErrDisabled, and the account operations that send mail
	// answer FORBIDDEN with the reason MAIL_DISABLED.
	Disabled bool `flag:"mail-disabled" env:"MAIL_DISABLED" help:"run without mail: operations that send mail answer an error"`
	// ProductName names the service in every mail.
	ProductName string `flag:"mail-product-name" env:"MAIL_PRODUCT_NAME" default:"bitgate" help:"the service's name in mail"`
	// TemplatesDir, if set, is a directory whose files replace the built-in
	// templates of the same name (see Templates).
	TemplatesDir string `flag:"mail-templates-dir" env:"MAIL_TEMPLATES_DIR" help:"directory of mail templates that replace the built-in ones of the same name"`
	// GiveUpAfter is how long a mail is retried before it is dropped.
	GiveUpAfter time.Duration `flag:"mail-give-up-after" env:"MAIL_GIVE_UP_AFTER" default:"24h" help:"how long a mail that cannot be delivered is retried before it is dropped"`
	// PollInterval is how often the sender looks for due mail (retries,
	// and mail whose sender died) when nothing wakes it; mail queued on
	// this instance wakes it at once.
	PollInterval time.Duration `flag:"mail-poll-interval" env:"MAIL_POLL_INTERVAL" default:"10s" help:"how often the mail sender looks for retries and mail left by another instance"`
	// Timeout bounds connecting to the SMTP server (TCP, TLS, EHLO,
	// STARTTLS, AUTH), and then the sending of each mail.
	Timeout time.Duration `flag:"smtp-timeout" env:"SMTP_TIMEOUT" default:"30s" help:"how long connecting to the SMTP server, and then sending each mail, may take"`
	// Interval and PerHour limit the mail a request may cause to one
	// address (see Allow): at most one of a kind every Interval, and
	// PerHour of a kind an hour.
	Interval time.Duration `flag:"mail-interval" env:"MAIL_INTERVAL" default:"1m" help:"least time between two mails of one kind (verification, reset, email change) to one address"`
	PerHour  int           `flag:"mail-per-hour" env:"MAIL_PER_HOUR" default:"5" help:"mails of one kind (verification, reset, email change) one address may get in an hour"`
}

// DevPublicURL is the base of links in development when PUBLIC_URL is not
// set.
const DevPublicURL = "http://localhost:8080"

// Validate checks the forms of the settings (the durations and
// MAIL_PER_HOUR must be positive, MAIL_PRODUCT_NAME one line), and says
// which setting is wrong and why, never showing SMTP_URL's password.
// Whether the settings suit production is New's to check.
func (c *Config) Validate() error {
	if c.Disabled && c.SMTPURL != "" {
		return errors.New("SMTP_URL and MAIL_DISABLED=true contradict each other: unset one")
	}
	if c.SMTPURL != "" {
		if _, err := parseSMTPURL(c.SMTPURL); err != nil {
			return err
		}
		if c.From == "" {
			return errors.New("MAIL_FROM must be set with SMTP_URL: the sender of account mail, such as \"Example <no-reply@example.com>\"")
		}
	}
	if c.From != "" {
		if _, err := parseFrom(c.From); err != nil {
			return err
		}
	}
	if c.PublicURL != "" {
		if _, err := parsePublicURL(c.PublicURL); err != nil {
			return err
		}
	}
	if c.ProductName == "" || strings.ContainsFunc(c.ProductName, unicode.IsControl) {
		return errors.New("MAIL_PRODUCT_NAME must be one line of text")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MAIL_GIVE_UP_AFTER", c.GiveUpAfter}, {"MAIL_POLL_INTERVAL", c.PollInterval}, {"SMTP_TIMEOUT", c.Timeout}, {"MAIL_INTERVAL", c.Interval}} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive", d.name)
		}
	}
	if c.PerHour <= 0 {
		return errors.New("MAIL_PER_HOUR must be positive")
	}
	return nil
}

// smtpTarget is a parsed SMTP_URL.
type smtpTarget struct {
	host       string
	port       int
	tls        tlsMode
	user, pass string
}

// tlsMode is how a connection to the SMTP server is protected.
type tlsMode int

const (
	startTLS    tlsMode = iota // smtp://: STARTTLS, required
	implicitTLS                // smtps://: TLS from the first byte
	noTLS                      // smtp://…?tls=none: a local relay
)

// addr returns host:port.
func (t smtpTarget) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// parseSMTPURL parses SMTP_URL. Its errors never hold the password.
func parseSMTPURL(raw string) (smtpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return smtpTarget{}, errors.New("SMTP_URL is not a URL such as smtps://user:pass@host:465")
	}
	var t smtpTarget
	switch u.Scheme {
	case "smtps":
		t.tls, t.port = implicitTLS, 465
	case "smtp":
		t.tls, t.port = startTLS, 587
	default:
		return smtpTarget{}, fmt.Errorf("SMTP_URL must start with smtps:// or smtp://, not %q", u.Scheme+":")
	}
	if t.host = u.Hostname(); t.host == "" {
		return smtpTarget{}, errors.New("SMTP_URL names no host")
	}
	if p := u.Port(); p != "" {
		if t.port, err = strconv.Atoi(p); err != nil || t.port < 1 || t.port > 65535 {
			return smtpTarget{}, fmt.Errorf("SMTP_URL: port %q is not a port number", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.Opaque != "" {
		return smtpTarget{}, fmt.Errorf("SMTP_URL %s: only the scheme, credentials, host, port and ?tls=none may be given", u.Redacted())
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return smtpTarget{}, fmt.Errorf("SMTP_URL: unknown parameter %q (only tls=none is known)", k)
		}
	}
	if v, ok := q["tls"]; ok {
		switch {
		case len(v) != 1 || v[0] != "none":
			return smtpTarget{}, fmt.Errorf("SMTP_URL: tls may only be none (a local relay without TLS), not %q", strings.Join(v, ","))
		case t.tls == implicitTLS:
			return smtpTarget{}, errors.New("SMTP_URL: smtps:// is TLS; tls=none goes with smtp:// only")
		case u.User != nil:
			return smtpTarget{}, errors.New("SMTP_URL: no credentials with tls=none: they would cross the network in clear")
		}
		if u.Port() == "" {
			t.port = 25
		}
		t.tls = noTLS
	}
	return t, nil
}

// parseFrom parses MAIL_FROM.
func parseFrom(s string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, fmt.Errorf("MAIL_FROM %q is not one address, such as \"Example <no-reply@example.com>\"", s)
	}
	return a, nil
}

// parsePublicURL parses PUBLIC_URL: an absolute http(s) URL, maybe with a
// path, with no query, fragment or credentials. It returns it without a
// trailing slash.
func parsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("PUBLIC_URL %q is not a base URL such as https://app.example.com", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
