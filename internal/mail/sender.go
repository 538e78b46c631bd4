package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"bitgate/ent/outboxmail"
)

// Retry timing: a mail that failed for a temporary reason is tried again
// after retryFirst, then twice as long after each failure, up to
// retryMax, until Config.GiveUpAfter has passed since it was queued.
const (
	retryFirst = 30 * time.Second
	retryMax   = 15 * time.Minute
	// settleTimeout bounds recording an attempt's outcome, which happens
	// even when the sender is stopping.
	settleTimeout = 5 * time.Second
)

// backoff returns how long to wait after the attempt-th failure.
func backoff(attempt int) time.Duration {
	d := retryFirst
	for i := 1; i < attempt && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// lease is how long a sender holds a claimed mail: longer than connecting
// and sending may take. A sender that dies holding one leaves the mail due
// again when it lapses.
func (m *Mailer) lease() time.Duration { return 3 * m.cfg.Timeout }

// Run sends due mail until ctx ends: at once, whenever Poke is called (as
// Queue does after its commit), and every Config.PollInterval (retries,
// and mail queued on instances that died). It returns when ctx ends, after
// recording the outcome of a mail it was sending (an SMTP exchange in
// progress is cut off: that mail is sent again when its lease lapses).
// With mail disabled it returns at once.
func (m *Mailer) Run(ctx context.Context) {
	if m.Disabled() {
		return
	}
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.poke:
		case <-poll.C:
		}
		if _, err := m.SendDue(ctx); err != nil && ctx.Err() == nil {
			m.log.WarnContext(ctx, "mail sender: cannot read the outbox; trying again later", slog.Any("error", err))
		}
		poll.Reset(m.cfg.PollInterval)
	}
}

// SendDue sends every mail that is due now, one at a time, over one SMTP
// connection, and returns how many were sent: first it drops the mail
// that has been retried for Config.GiveUpAfter, then it claims due mail
// until there is none. Run calls it; a test may call it to send at once.
// Every instance may call it at the same time: each mail is claimed by
// one. Returns ErrDisabled when mail is disabled, or the error of the
// database, or ctx's.
func (m *Mailer) SendDue(ctx context.Context) (int, error) {
	if m.Disabled() {
		return 0, ErrDisabled
	}
	if err := m.expire(ctx); err != nil {
		return 0, err
	}
	s := m.transport.session()
	defer s.close()
	sent := 0
	for ctx.Err() == nil {
		c, err := m.claim(ctx)
		if err != nil || c == nil {
			return sent, err
		}
		result, err := s.send(ctx, m.outgoing(c.id, Kind(c.kind), c.to, c.rendered))
		if m.settle(ctx, c, result, err) {
			sent++
		}
		if errors.As(err, new(*unreachable)) {
			// The rest waits for the next round, rather than each
			// waiting SMTP_TIMEOUT for a server that is down.
			return sent, nil
		}
	}
	return sent, ctx.Err()
}

// claimed is a mail a sender holds.
type claimed struct {
	id       uuid.UUID
	kind, to string
	attempts int
	rendered
}

// claimSQL returns the statement that claims the oldest due mail: of one
// pending row due at $2, it pushes due_at to the end of the lease ($1),
// counts the attempt, and returns the mail. On PostgreSQL, FOR UPDATE SKIP
// LOCKED passes over a row another instance is claiming, so that
// concurrent senders each get another one; SQLite has one writer at a
// time. (SQLite reads $1 and $2 as parameters in the order they appear.)
func claimSQL(d string) string {
	lock := ""
	if d == dialect.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return `UPDATE outbox_mails SET due_at = $1, attempts = attempts + 1
WHERE id = (SELECT id FROM outbox_mails WHERE state = 'pending' AND due_at <= $2 ORDER BY due_at LIMIT 1` + lock + `)
RETURNING id, kind, recipient, attempts, subject, text_body, html_body`
}

// claim takes the oldest due mail for a lease, or returns nil if none is
// due.
func (m *Mailer) claim(ctx context.Context) (*claimed, error) {
	now := m.now()
	rows, err := m.client.QueryContext(ctx, m.claimSQL, now.Add(m.lease()), now)
	if err != nil {
		return nil, fmt.Errorf("claim due mail: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var c claimed
	if err := rows.Scan(&c.id, &c.kind, &c.to, &c.attempts, &c.subject, &c.text, &c.html); err != nil {
		return nil, fmt.Errorf("claim due mail: %w", err)
	}
	return &c, rows.Close()
}

// expireSQL drops the pending mail that no sender holds (due by $1) and
// was queued before $2, or carries a link whose token expired by $1: its
// state, when ($1), its bodies emptied. It returns what the log says of
// each, and why it was dropped.
const expireSQL = `UPDATE outbox_mails SET state = 'dropped', done_at = $1, text_body = '', html_body = ''
WHERE state = 'pending' AND due_at <= $1 AND (created_at < $2 OR expires_at <= $1)
RETURNING id, kind, recipient, attempts, last_error, CASE WHEN created_at < $2 THEN '` + DropExpired + `' ELSE '` + DropLinkExpired + `' END`

// expire drops the mail that could not be delivered within
// Config.GiveUpAfter, logging and counting each.
func (m *Mailer) expire(ctx context.Context) error {
	now := m.now()
	rows, err := m.client.QueryContext(ctx, expireSQL, now, now.Add(-m.cfg.GiveUpAfter))
	if err != nil {
		return fmt.Errorf("drop expired mail: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id                        uuid.UUID
			kind, to, lastErr, reason string
			attempts                  int
		)
		if err := rows.Scan(&id, &kind, &to, &attempts, &lastErr, &reason); err != nil {
			return fmt.Errorf("drop expired mail: %w", err)
		}
		m.dropped(ctx, id, kind, to, attempts, reason, lastErr)
	}
	return rows.Err()
}

// settle records the outcome of an attempt to send c, even if ctx ended:
// sent; dropped, when the server refused it for good; or due again after
// a backoff. It reports whether c was sent.
func (m *Mailer) settle(ctx context.Context, c *claimed, result string, sendErr error) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	now := m.now()
	log := m.log.With(slog.String("mail_id", c.id.String()), slog.String("kind", c.kind), slog.String("to", c.to),
		slog.Int("attempts", c.attempts))
	update := m.client.OutboxMail.Update().Where(outboxmail.ID(c.id), outboxmail.StateEQ(outboxmail.StatePending))
	switch {
	case sendErr == nil:
		// Whoever holds it now, it is sent.
		err := update.SetState(outboxmail.StateSent).SetDoneAt(now).SetTextBody("").SetHTMLBody("").SetLastError("").Exec(ctx)
		if err != nil {
			// It goes out again when the lease lapses.
			log.ErrorContext(ctx, "mail sent, but not marked sent: it will be sent again", slog.Any("error", err))
		}
		m.metrics.MailSent(c.kind)
		log.InfoContext(ctx, "mail sent", slog.String("result", result))
		return true
	case permanent(sendErr):
		err := update.Where(outboxmail.Attempts(c.attempts)).
			SetState(outboxmail.StateDropped).SetDoneAt(now).SetTextBody("").SetHTMLBody("").
			SetLastError(clip(sendErr.Error())).Exec(ctx)
		if err != nil {
			log.ErrorContext(ctx, "record a refused mail", slog.Any("error", err))
			return false
		}
		m.dropped(ctx, c.id, c.kind, c.to, c.attempts, DropRejected, sendErr.Error())
	default:
		retry := backoff(c.attempts)
		err := update.Where(outboxmail.Attempts(c.attempts)).
			SetDueAt(now.Add(retry)).SetLastError(clip(sendErr.Error())).Exec(ctx)
		if err != nil {
			// It is due again when the lease lapses.
			log.ErrorContext(ctx, "record a failed attempt to send mail", slog.Any("error", err))
		}
		m.metrics.MailRetried(c.kind)
		log.WarnContext(ctx, "mail not sent; retrying", slog.Duration("retry_in", retry), slog.Any("error", sendErr))
	}
	return false
}

// dropped logs and counts a mail given up for reason.
func (m *Mailer) dropped(ctx context.Context, id uuid.UUID, kind, to string, attempts int, reason, lastErr string) {
	m.metrics.MailDropped(kind, reason)
	m.log.ErrorContext(ctx, "mail dropped", slog.String("mail_id", id.String()), slog.String("kind", kind),
		slog.String("to", to), slog.Int("attempts", attempts), slog.String("reason", reason), slog.String("error", lastErr))
}

// permanent reports whether err is the SMTP server refusing this mail for
// good: a 5xx reply to RCPT TO (the recipient) or to the message's data.
// Everything else is temporary: a 4xx, a connection, TLS or
// authentication failure, and a 5xx to MAIL FROM (the sender, which is
// this server's settings, not the mail's fault: it is retried until
// an operator fixes them or GiveUpAfter passes).
func permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() < 600
	}
	return false
}

// clip shortens an error for the last_error column.
func clip(s string) string {
	const n = 1000
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// outgoing is a mail ready for a transport.
type outgoing struct {
	id   uuid.UUID
	kind Kind
	from *mail.Address
	to   string
	date time.Time
	rendered
}

// outgoing returns the mail id as this Mailer sends it now.
func (m *Mailer) outgoing(id uuid.UUID, kind Kind, to string, r rendered) outgoing {
	return outgoing{id: id, kind: kind, from: m.from, to: to, date: m.now(), rendered: r}
}

// msg builds the MIME message: multipart/alternative, text then HTML, in
// UTF-8 with enc. Its Message-ID is the outbox row's, the same at every
// attempt, so that a receiver may recognise a mail sent twice.
func (o outgoing) msg(enc gomail.Encoding) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithEncoding(enc), gomail.WithCharset(gomail.CharsetUTF8))
	msg.FromMailAddress(o.from)
	if err := msg.To(o.to); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(o.subject)
	_, domain, _ := strings.Cut(o.from.Address, "@")
	msg.SetMessageIDWithValue(o.id.String() + "@" + domain)
	msg.SetDateWithValue(o.date)
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	text, html := o.text, o.html
	if enc == gomail.NoEncoding { // the encoders write CRLF; unencoded, it is up to us
		text, html = crlf(text), crlf(html)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}

// crlf ends every line of s with CRLF, as RFC 5322 wants.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// transport is where mail goes: an SMTP server, or files.
type transport interface {
	// session starts a run of sends.
	session() session
}

// session sends mail, one at a time.
type session interface {
	// send delivers o, and returns what the other end said of it.
	send(ctx context.Context, o outgoing) (string, error)
	// close ends the session.
	close()
}

// smtpTransport sends mail to the SMTP server of SMTP_URL.
type smtpTransport struct {
	client *gomail.Client
	addr   string
}

// newSMTP returns the transport to target. Its TLS configuration is base's
// (nil: the system's roots), for target's host.
func newSMTP(target smtpTarget, timeout time.Duration, base *tls.Config) (*smtpTransport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
	}
	tc.ServerName = target.host
	opts := []gomail.Option{gomail.WithPort(target.port), gomail.WithTimeout(timeout), gomail.WithTLSConfig(tc)}
	switch target.tls {
	case implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case startTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case noTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if target.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(target.user), gomail.WithPassword(target.pass))
	}
	c, err := gomail.NewClient(target.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	return &smtpTransport{client: c, addr: target.addr()}, nil
}

func (t *smtpTransport) session() session { return &smtpSession{t: t} }

// smtpSession is one connection, opened at the first send and again after
// a failed one.
type smtpSession struct {
	t    *smtpTransport
	conn *gosmtp.Client
}

func (s *smtpSession) send(ctx context.Context, o outgoing) (string, error) {
	msg, err := o.msg(gomail.EncodingQP)
	if err != nil {
		return "", err
	}
	if s.conn == nil {
		if s.conn, err = s.t.client.DialToSMTPClientWithContext(ctx); err != nil {
			s.conn = nil
			return "", &unreachable{addr: s.t.addr, err: err}
		}
	}
	// An ending ctx cuts the exchange off; each step is bounded by
	// SMTP_TIMEOUT besides.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() })
	err = s.t.client.SendWithSMTPClient(s.conn, msg)
	stop()
	if msg.IsDelivered() { // even if what came after (RSET) failed
		if err != nil {
			s.close()
		}
		return "accepted by " + s.t.addr + ": " + msg.ServerResponse(), nil
	}
	if err != nil {
		s.close()
		return "", err
	}
	return "", errors.New("the SMTP server did not take the mail") // not reached: no error means delivered
}

// unreachable is a failure to connect to the SMTP server (TCP, TLS,
// EHLO, STARTTLS or AUTH).
type unreachable struct {
	addr string
	err  error
}

func (e *unreachable) Error() string { return "connect to " + e.addr + ": " + e.err.Error() }
func (e *unreachable) Unwrap() error { return e.err }

func (s *smtpSession) close() {
	if s.conn != nil {
		_ = s.t.client.CloseWithSMTPClient(s.conn)
		s.conn = nil
	}
}

// files writes mail to .eml files in dir, one each, readable by the owner
// only (a mail may hold a token): development's mail without an SMTP
// server. The log names the file and the recipient, never the content.
type files struct {
	dir string
	log *slog.Logger
}

func (f files) session() session { return f }

func (f files) send(ctx context.Context, o outgoing) (string, error) {
	// 8bit: the link reads as it is in the file.
	msg, err := o.msg(gomail.NoEncoding)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return "", fmt.Errorf("create the mail directory: %w", err)
	}
	path := filepath.Join(f.dir, o.date.UTC().Format("20060102T150405Z")+"-"+string(o.kind)+"-"+o.id.String()+".eml")
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("write mail: %w", err)
	}
	_, err = msg.WriteTo(file)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write mail %s: %w", path, err)
	}
	f.log.InfoContext(ctx, "mail written to a file (no SMTP_URL)", slog.String("kind", string(o.kind)),
		slog.String("to", o.to), slog.String("file", path))
	return "written to " + path, nil
}

func (files) close() {}

// SendTest sends a test mail to to at once, through SMTP_URL (or to a file
// without it), without the outbox, and returns what the other end said of
// it: for `bitgate mail test`. Returns ErrDisabled when mail is disabled,
// an error if to is not one address, or the SMTP error (connection, TLS,
// authentication, or the server's refusal with its code).
func (m *Mailer) SendTest(ctx context.Context, to string) (string, error) {
	if m.Disabled() {
		return "", ErrDisabled
	}
	r, err := m.render(testMail{To: to}.envelope(), m.now())
	if err != nil {
		return "", err
	}
	s := m.transport.session()
	defer s.close()
	return s.send(ctx, m.outgoing(uuid.Must(uuid.NewV7()), KindTest, to, r))
}
