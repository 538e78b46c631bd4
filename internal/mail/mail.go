// Package mail delivers the account's mail: an outbox in the database,
// written in the transaction of the token or change a mail tells about,
// and a background sender that delivers it by SMTP, with retries.
//
// A mail is rendered from its templates when it is queued (Queue), and
// stored so: it is queued if and only if the caller's transaction
// commits, and sent as it was written whatever changes afterwards. The
// sender (Run) claims one due mail at a time with a lease (on PostgreSQL
// FOR UPDATE SKIP LOCKED, so that instances never claim the same row),
// sends it, and marks it sent once the SMTP server accepted it. Delivery
// is at least once: a sender that dies after the server accepted a mail
// but before marking it sent leaves it to be sent again when the lease
// lapses (the Message-ID stays the same, so a receiver may tell). A
// temporary failure is retried with backoff until Config.GiveUpAfter; a
// permanent refusal of the recipient or the message (a 5xx reply to RCPT
// TO or to the data) drops it at once. Dropped mail is logged and counted.
//
// Without SMTP_URL, in development, mail is written to .eml files under
// Options.Dir instead (the log names the file, never the token); in
// production New refuses, unless mail is disabled, and then Queue answers
// ErrDisabled.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"bitgate/ent"
	"bitgate/ent/outboxmail"
	"bitgate/internal/database"
)

// ErrDisabled is returned by Queue and SendTest when mail is disabled
// (MAIL_DISABLED=true): the operation that wanted to send mail cannot be
// done.
var ErrDisabled = errors.New("mail is disabled on this server")

// Metrics counts what happens to mail, by kind (a fixed set) and, for
// dropped mail, by reason: "rejected" (the server refused it for good) or
// "expired" (it could not be delivered within Config.GiveUpAfter).
// internal/metrics implements it.
type Metrics interface {
	MailQueued(kind string)
	MailSent(kind string)
	MailRetried(kind string)
	MailDropped(kind, reason string)
}

// uncounted is the Metrics of a Mailer without any.
type uncounted struct{}

func (uncounted) MailQueued(string)          {}
func (uncounted) MailSent(string)            {}
func (uncounted) MailRetried(string)         {}
func (uncounted) MailDropped(string, string) {}

// Reasons a mail is dropped, as Metrics and the log give them.
const (
	DropRejected    = "rejected"     // the SMTP server refused it for good
	DropExpired     = "expired"      // not delivered within MAIL_GIVE_UP_AFTER
	DropLinkExpired = "link-expired" // not delivered before its link's token expired
)

// Options are what a Mailer needs besides its settings.
type Options struct {
	// Production refuses to start without SMTP_URL unless mail is
	// disabled, and wants an https PUBLIC_URL.
	Production bool
	// Dir is where mail goes as .eml files when there is no SMTP_URL (in
	// development): the data directory's mail/, say.
	Dir string
	// Logger receives what the sender does; nil means slog.Default(). No
	// line holds a mail's body, so no token.
	Logger *slog.Logger
	// Metrics, if set, counts mail.
	Metrics Metrics
	// Now is the clock of queueing, retries and leases; nil means
	// time.Now.
	Now func() time.Time
	// TLS, if set, is the TLS configuration of SMTP connections (its
	// ServerName is set to SMTP_URL's host): tests trust their own
	// certificate with it. Nil means the system's roots.
	TLS *tls.Config
}

// Mailer queues mail and sends it. It is safe for concurrent use.
type Mailer struct {
	client    *ent.Client
	dialect   string
	claimSQL  string
	cfg       Config
	log       *slog.Logger
	metrics   Metrics
	now       func() time.Time
	templates templates
	publicURL string
	from      *mail.Address
	transport transport // nil when disabled
	poke      chan struct{}
}

// New returns a Mailer on db with cfg. Returns an error if cfg does not
// validate (see Config.Validate), if opts.Production and there is no
// SMTP_URL and mail is not disabled, or PUBLIC_URL is not an https URL
// while mail is on, or if a template fails (see loadTemplates).
func New(db *database.DB, cfg Config, opts Options) (*Mailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Mailer{client: db.Client, cfg: cfg, log: opts.Logger, metrics: opts.Metrics, now: opts.Now,
		poke: make(chan struct{}, 1)}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.metrics == nil {
		m.metrics = uncounted{}
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.dialect, m.claimSQL = db.Dialect, claimSQL(db.Dialect)
	if opts.Production && !cfg.Disabled {
		switch {
		case cfg.SMTPURL == "":
			return nil, errors.New("SMTP_URL is not set: in production account mail needs it (see the docs), " +
				"or MAIL_DISABLED=true to run without mail (the operations that send mail then answer an error)")
		case !strings.HasPrefix(cfg.PublicURL, "https://"):
			return nil, errors.New("PUBLIC_URL must be set to the https address of the frontend in production: " +
				"it is the base of every link in account mail")
		}
	}
	m.publicURL = DevPublicURL
	if cfg.PublicURL != "" {
		m.publicURL, _ = parsePublicURL(cfg.PublicURL) // validated
	}
	m.from = &mail.Address{Name: cfg.ProductName, Address: "no-reply@localhost"} // development's files only
	if cfg.From != "" {
		m.from, _ = parseFrom(cfg.From) // validated
	}
	var err error
	if m.templates, err = loadTemplates(cfg.TemplatesDir, m.sample); err != nil {
		return nil, err
	}
	switch {
	case cfg.Disabled:
	case cfg.SMTPURL != "":
		target, _ := parseSMTPURL(cfg.SMTPURL) // validated
		if m.transport, err = newSMTP(target, cfg.Timeout, opts.TLS); err != nil {
			return nil, err
		}
	default:
		if opts.Dir == "" {
			return nil, errors.New("mail: without SMTP_URL, mail goes to files, and no directory was given for them")
		}
		m.transport = files{dir: opts.Dir, log: m.log}
	}
	return m, nil
}

// Disabled reports whether mail is off (MAIL_DISABLED=true).
func (m *Mailer) Disabled() bool { return m.transport == nil }

// Queue renders msg and stores it in tx's outbox, so that it is sent if
// and only if tx commits; after the commit it wakes this instance's sender.
// Queueing never talks to the SMTP server: an outage delays the mail, and
// never fails the caller. Returns ErrDisabled when mail is disabled, an
// error if msg is incomplete (a link kind without its token or lifetime,
// a recipient that is not one address), or if the insert fails.
func (m *Mailer) Queue(ctx context.Context, tx *ent.Tx, msg Message) error {
	if m.Disabled() {
		return ErrDisabled
	}
	now := m.now()
	e := msg.envelope()
	r, err := m.render(e, now)
	if err != nil {
		return err
	}
	create := tx.OutboxMail.Create().
		SetCreatedAt(now).SetDueAt(now).
		SetKind(string(e.kind)).SetRecipient(e.to).
		SetSubject(r.subject).SetTextBody(r.text).SetHTMLBody(r.html)
	if e.token != "" {
		create.SetExpiresAt(now.Add(e.validFor))
	}
	err = create.Exec(ctx)
	if err != nil {
		return fmt.Errorf("queue %s mail: %w", e.kind, err)
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			m.metrics.MailQueued(string(e.kind))
			m.Poke()
			return nil
		})
	})
	return nil
}

// Poke wakes the sender to look for due mail now. Queue pokes after its
// transaction commits; a test that advanced the clock may too.
func (m *Mailer) Poke() {
	select {
	case m.poke <- struct{}{}:
	default: // a poke is pending already
	}
}

// render writes the mail e says, at now. Returns an error if e is
// incomplete.
func (m *Mailer) render(e envelope, now time.Time) (rendered, error) {
	if a, err := mail.ParseAddress(e.to); err != nil || a.Address != e.to || a.Name != "" {
		return rendered{}, fmt.Errorf("%s mail: recipient %q is not one plain address", e.kind, e.to)
	}
	d := e.data
	d.Product, d.PublicURL, d.To = m.cfg.ProductName, m.publicURL, e.to
	d.Time = now.UTC().Format("2 January 2006 15:04 UTC")
	if path, ok := linkPaths[e.kind]; ok {
		if e.token == "" || e.validFor <= 0 {
			return rendered{}, fmt.Errorf("%s mail needs a token and how long it is valid", e.kind)
		}
		d.Link = m.publicURL + path + "?token=" + url.QueryEscape(e.token)
		d.ValidFor = duration(e.validFor)
	}
	r, err := m.templates.render(e.kind, d)
	if err != nil {
		return rendered{}, fmt.Errorf("render %s mail: %w", e.kind, err)
	}
	return r, nil
}

// sample is the data loadTemplates checks the templates of kind k with.
func (m *Mailer) sample(k Kind) Data {
	d := Data{
		Product: m.cfg.ProductName, PublicURL: m.publicURL, To: "someone@example.com",
		Time: "1 January 2026 12:00 UTC", OldEmail: "old@example.com", NewEmail: "new@example.com", Factor: "TOTP",
		SessionEnded: true, LockedFor: "15 minutes",
	}
	if path, ok := linkPaths[k]; ok {
		d.Link, d.ValidFor = m.publicURL+path+"?token=SAMPLE-TOKEN", "1 hour"
	}
	return d
}

// KeepDone is how long a sent or dropped mail's row (without its bodies)
// stays in the outbox, for an operator to look up, before Prune deletes
// it.
const KeepDone = 7 * 24 * time.Hour

// Prune deletes the outbox rows of mail sent or dropped more than KeepDone
// ago. It is safe to run on every instance at once. Returns how many rows
// went.
func (m *Mailer) Prune(ctx context.Context) (int, error) {
	n, err := m.client.OutboxMail.Delete().Where(outboxmail.DoneAtLT(m.now().Add(-KeepDone))).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune the mail outbox: %w", err)
	}
	return n, nil
}
