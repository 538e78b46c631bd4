package mail_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/ent/outboxmail"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
	"bitgate/internal/mail"
	"bitgate/internal/mail/mailtest"
	"bitgate/internal/metrics"
	"bitgate/internal/settings"
)

func TestMain(m *testing.M) { apitest.Main(m) }

var _ mail.Metrics = (*metrics.Metrics)(nil)

// token is the fake token of every test mail: no log line may hold it.
const token = "tok_SECRET-0123456789abcdefABCDEF"

// publicURL is PUBLIC_URL in the tests, with a path to keep.
const publicURL = "https://app.example.com/account"

// fixture is a database, an SMTP server, a clock, a log and metrics that
// the Mailers of a test share.
type fixture struct {
	url     string
	db      *database.DB
	smtp    *mailtest.Server
	clock   *apitest.Clock
	log     *apitest.Log
	metrics *metrics.Metrics
}

// newFixture opens a fresh database (SQLite, or PostgreSQL in that pass)
// and starts an SMTP server in mode. When the test ends, it fails it if a
// log line held the token.
func newFixture(t *testing.T, mode mailtest.Mode) *fixture {
	t.Helper()
	f := &fixture{url: apitest.FreshDatabase(t), smtp: mailtest.Start(t, mode), clock: apitest.NewClock(),
		log: new(apitest.Log), metrics: metrics.New()}
	f.db = f.open(t)
	t.Cleanup(func() {
		require.NotContains(t, f.log.String(), token, "a log line holds the token")
	})
	return f
}

// open opens another client on the fixture's database: another instance.
func (f *fixture) open(t *testing.T) *database.DB {
	t.Helper()
	db, err := database.Open(t.Context(), f.url, database.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// config returns the settings of a Mailer that sends to the fixture's
// server.
func (f *fixture) config() mail.Config {
	return configWith(func(c *mail.Config) {
		c.SMTPURL, c.From, c.PublicURL, c.ProductName = f.smtp.URL(), "Acme <no-reply@acme.example>", publicURL, "Acme"
	})
}

// configWith returns the settings at their declared defaults, changed by
// change.
func configWith(change func(c *mail.Config)) mail.Config {
	c := settings.Default[mail.Config]()
	change(&c)
	return c
}

// mailer returns a Mailer on db (the fixture's when nil) with cfg.
func (f *fixture) mailer(t *testing.T, db *database.DB, cfg mail.Config) *mail.Mailer {
	t.Helper()
	if db == nil {
		db = f.db
	}
	m, err := mail.New(db, cfg, f.options(t))
	require.NoError(t, err, "mail.New")
	return m
}

// options are the Options of the fixture's Mailers.
func (f *fixture) options(t *testing.T) mail.Options {
	return mail.Options{
		Dir: t.TempDir(), TLS: f.smtp.ClientTLS(), Now: f.clock.Now, Metrics: f.metrics,
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// queue queues msgs in one transaction through m, and commits it, or rolls
// it back.
func (f *fixture) queue(t *testing.T, m *mail.Mailer, commit bool, msgs ...mail.Message) {
	t.Helper()
	tx, err := f.db.Client.Tx(t.Context())
	require.NoError(t, err)
	for _, msg := range msgs {
		require.NoError(t, m.Queue(t.Context(), tx, msg), "Queue")
	}
	if commit {
		require.NoError(t, tx.Commit())
	} else {
		require.NoError(t, tx.Rollback())
	}
}

// sendDue runs m.SendDue and requires that it sent want mails.
func sendDue(t *testing.T, m *mail.Mailer, want int) {
	t.Helper()
	n, err := m.SendDue(t.Context())
	require.NoError(t, err, "SendDue")
	require.Equal(t, want, n, "mails sent")
}

// outbox returns the outbox's rows.
func (f *fixture) outbox(t *testing.T) []*ent.OutboxMail {
	t.Helper()
	rows, err := f.db.Client.OutboxMail.Query().All(t.Context())
	require.NoError(t, err)
	return rows
}

// counter returns the value of a series of the fixture's metrics (0 if it
// is not there yet).
func (f *fixture) counter(t *testing.T, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	f.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	match := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(rec.Body.String())
	if match == nil {
		return 0
	}
	v, err := strconv.ParseFloat(match[1], 64)
	require.NoError(t, err)
	return v
}

// verify is a verification mail to to with the fake token.
func verify(to string) mail.VerifyEmail {
	return mail.VerifyEmail{To: to, Token: token, ValidFor: 24 * time.Hour}
}

// TestQueueSendsWhatCommits: a mail queued in a transaction that rolls
// back is never sent; one whose transaction commits is sent once, however
// often the sender runs, and its row keeps no body.
func TestQueueSendsWhatCommits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	m := f.mailer(t, nil, f.config())

	f.queue(t, m, false, verify("rolled-back@example.com"))
	sendDue(t, m, 0)
	require.Empty(t, f.outbox(t))
	require.Empty(t, f.smtp.Received())
	require.Zero(t, f.counter(t, `bitgate_mail_queued_total{kind="verify-email"}`), "a rolled-back mail was counted")

	f.queue(t, m, true, verify("committed@example.com"))
	sendDue(t, m, 1)
	sendDue(t, m, 0)
	got := f.smtp.Next(t)
	require.Equal(t, []string{"committed@example.com"}, got.To)
	require.Len(t, f.smtp.Received(), 1)

	rows := f.outbox(t)
	require.Len(t, rows, 1)
	require.Equal(t, outboxmail.StateSent, rows[0].State)
	require.NotNil(t, rows[0].DoneAt)
	require.Empty(t, rows[0].TextBody+rows[0].HTMLBody, "a sent mail's row keeps its token")
	require.Equal(t, 1.0, f.counter(t, `bitgate_mail_queued_total{kind="verify-email"}`))
	require.Equal(t, 1.0, f.counter(t, `bitgate_mail_sent_total{kind="verify-email"}`))
}

// TestMailIsMultipartWithItsLink: each mail with a link is text and HTML,
// from MAIL_FROM with the product's name, and its text part holds
// PUBLIC_URL + path + ?token= as it is.
func TestMailIsMultipartWithItsLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.ImplicitTLS)
	m := f.mailer(t, nil, f.config())
	for _, tc := range []struct {
		msg           mail.Message
		path, subject string
	}{
		{verify("v@example.com"), "/verify-email", "Verify your email for Acme"},
		{mail.ResetPassword{To: "r@example.com", Token: token, ValidFor: time.Hour}, "/reset-password", "Reset your Acme password"},
		{mail.ConfirmEmailChange{To: "new@example.com", OldEmail: "old@example.com", Token: token, ValidFor: time.Hour},
			"/confirm-email-change", "Confirm your new email for Acme"},
	} {
		f.queue(t, m, true, tc.msg)
		sendDue(t, m, 1)
		got := f.smtp.Next(t)
		require.Equal(t, "no-reply@acme.example", got.From, "envelope sender")
		require.Equal(t, `"Acme" <no-reply@acme.example>`, got.Header(t, "From"))
		require.Equal(t, tc.subject, got.Header(t, "Subject"))
		require.Regexp(t, `^<[0-9a-f-]{36}@acme\.example>$`, got.Header(t, "Message-Id"))
		require.Equal(t, "auto-generated", got.Header(t, "Auto-Submitted"))
		require.True(t, strings.HasPrefix(got.Header(t, "Content-Type"), "multipart/alternative;"), got.Header(t, "Content-Type"))

		parts := got.Parts(t)
		want := publicURL + tc.path + "?token=" + token
		require.Contains(t, strings.Split(parts["text/plain"], "\r\n"), want, "the link as it is, on a line of its own")
		require.Contains(t, parts["text/html"], `href="`+want+`"`)
		require.Contains(t, parts["text/html"], "<!DOCTYPE html>")
		link := got.Link(t, tc.path)
		require.Equal(t, token, link.Query().Get("token"))
		require.Equal(t, "app.example.com", link.Host)
	}
}

// TestQueueRefusesAnIncompleteMail: a link kind without its token or
// lifetime, and a recipient that is not one plain address, are the
// caller's mistakes: Queue says so and stores nothing.
func TestQueueRefusesAnIncompleteMail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.Plain)
	m := f.mailer(t, nil, f.config())
	for _, msg := range []mail.Message{
		mail.VerifyEmail{To: "a@example.com", ValidFor: time.Hour},
		mail.ResetPassword{To: "a@example.com", Token: token},
		mail.PasswordChanged{To: "Someone <a@example.com>"},
		mail.PasswordChanged{To: "a@example.com, b@example.com"},
		mail.PasswordChanged{To: "a@example.com\r\nBcc: b@example.com"},
	} {
		tx, err := f.db.Client.Tx(t.Context())
		require.NoError(t, err)
		require.Error(t, m.Queue(t.Context(), tx, msg), "%#v", msg)
		require.NoError(t, tx.Commit())
	}
	require.Empty(t, f.outbox(t))
}

// TestQueuedMailKeepsItsRendering: a mail is rendered when it is queued,
// so that templates (or settings) that change before it is sent, by a
// deploy, say, neither break nor change it.
func TestQueuedMailKeepsItsRendering(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	f.queue(t, f.mailer(t, nil, f.config()), true, verify("a@example.com"))

	cfg := f.config()
	cfg.TemplatesDir = t.TempDir()
	writeTemplate(t, cfg.TemplatesDir, "verify-email.txt", `{{define "subject"}}Changed{{end}}{{define "body"}}{{.Link}}{{end}}`)
	cfg.ProductName = "Renamed"
	sendDue(t, f.mailer(t, nil, cfg), 1)
	require.Equal(t, "Verify your email for Acme", f.smtp.Next(t).Header(t, "Subject"))
}

// TestPokeWakesTheSender: Run sends a mail as soon as the transaction that
// queued it commits (the poll is an hour away), and returns when its
// context ends.
func TestPokeWakesTheSender(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	cfg := f.config()
	cfg.PollInterval = time.Hour
	m := f.mailer(t, nil, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()

	for i := range 3 {
		f.queue(t, m, true, verify("poked"+strconv.Itoa(i)+"@example.com"))
		require.Equal(t, []string{"poked" + strconv.Itoa(i) + "@example.com"}, f.smtp.Next(t).To)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// TestOutageDelaysMail: with the SMTP server down, queueing succeeds (it is
// a row), the attempt fails and is retried after the backoff, and the mail
// arrives once the server is back.
func TestOutageDelaysMail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	m := f.mailer(t, nil, f.config())
	f.smtp.Stop()
	f.queue(t, m, true, verify("patient@example.com"))
	f.clock.Advance(time.Second)
	f.queue(t, m, true, verify("second@example.com"), verify("third@example.com"))
	sendDue(t, m, 0)
	attempts := map[string]int{}
	for _, row := range f.outbox(t) {
		require.Equal(t, outboxmail.StatePending, row.State)
		attempts[row.Recipient] = row.Attempts
		if row.Attempts > 0 {
			require.Contains(t, row.LastError, "connect to "+f.smtp.Addr())
		}
	}
	// One attempt found the server down; the others wait for the next
	// round rather than each try it.
	require.Equal(t, map[string]int{"patient@example.com": 1, "second@example.com": 0, "third@example.com": 0}, attempts)
	require.Equal(t, 1.0, f.counter(t, `bitgate_mail_retried_total{kind="verify-email"}`))
	require.Contains(t, f.log.String(), "mail not sent; retrying")

	f.smtp.Restart(t)
	sendDue(t, m, 2) // the first is not due before its backoff
	f.clock.Advance(30 * time.Second)
	sendDue(t, m, 1)
	var got []string
	for range 3 {
		got = append(got, f.smtp.Next(t).To[0])
	}
	require.Equal(t, []string{"second@example.com", "third@example.com", "patient@example.com"}, got)
}

// TestLapsedLeaseIsSentByAnother: a sender that claimed a mail and died
// holds it only for its lease; then another instance sends it.
func TestLapsedLeaseIsSentByAnother(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	dead, alive := f.mailer(t, nil, f.config()), f.mailer(t, f.open(t), f.config())
	f.queue(t, dead, true, verify("orphan@example.com"))
	claimed, err := dead.ClaimAndDie(t.Context())
	require.NoError(t, err)
	require.True(t, claimed)

	sendDue(t, alive, 0) // held
	f.clock.Advance(dead.Lease() - time.Second)
	sendDue(t, alive, 0)
	f.clock.Advance(time.Second)
	sendDue(t, alive, 1)
	require.Equal(t, []string{"orphan@example.com"}, f.smtp.Next(t).To)
}

// TestInstancesSendEachMailOnce: two instances, each running four senders
// at once on one outbox, send every mail exactly once.
func TestInstancesSendEachMailOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	instances := []*mail.Mailer{f.mailer(t, nil, f.config()), f.mailer(t, f.open(t), f.config())}
	const n = 200
	var msgs []mail.Message
	for i := range n {
		msgs = append(msgs, verify("user"+strconv.Itoa(i)+"@example.com"))
	}
	f.queue(t, instances[0], true, msgs...)

	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for _, m := range slices.Concat(instances, instances, instances, instances) {
		wg.Go(func() {
			k, err := m.SendDue(context.Background())
			require.NoError(t, err)
			mu.Lock()
			sent += k
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Equal(t, n, sent)
	seen := map[string]int{}
	for _, got := range f.smtp.Received() {
		seen[got.To[0]]++
	}
	require.Len(t, seen, n)
	for to, k := range seen {
		require.Equal(t, 1, k, "%s got %d mails", to, k)
	}
}

// TestGivesUpAfterTheBoundedTime: a mail the server keeps deferring (4xx)
// is retried with growing waits until MAIL_GIVE_UP_AFTER has passed, then
// dropped, logged and counted.
func TestGivesUpAfterTheBoundedTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	cfg := f.config()
	cfg.GiveUpAfter = time.Hour
	m := f.mailer(t, nil, cfg)
	f.smtp.Refuse(mailtest.AtRcpt, 451)
	f.queue(t, m, true, verify("deferred@example.com"))

	var waits []time.Duration
	start := f.clock.Now()
	for f.outbox(t)[0].State == outboxmail.StatePending {
		require.Less(t, f.clock.Now().Sub(start), 2*time.Hour, "never gave up")
		sendDue(t, m, 0)
		if row := f.outbox(t)[0]; row.State == outboxmail.StatePending {
			wait := row.DueAt.Sub(f.clock.Now())
			waits = append(waits, wait.Round(time.Second)) // PostgreSQL keeps microseconds
			f.clock.Advance(wait)
		}
	}
	require.Equal(t, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute},
		waits[:6], "the backoff")
	require.GreaterOrEqual(t, f.clock.Now().Sub(start), time.Hour, "gave up early")

	row := f.outbox(t)[0]
	require.Equal(t, outboxmail.StateDropped, row.State)
	require.Empty(t, row.TextBody+row.HTMLBody)
	require.Contains(t, row.LastError, "451")
	require.Equal(t, float64(len(waits)), f.counter(t, `bitgate_mail_retried_total{kind="verify-email"}`))
	require.Equal(t, 1.0, f.counter(t, `bitgate_mail_dropped_total{kind="verify-email",reason="expired"}`))
	require.Regexp(t, `level=ERROR msg="mail dropped" .*kind=verify-email to=deferred@example.com .*reason=expired error=".*451`, f.log.String())
	require.Empty(t, f.smtp.Received())
}

// TestRefusals: a 5xx to the recipient or the message drops the mail at
// once; a 4xx, and a 5xx to the sender (the server's settings, not the
// mail's fault), are retried.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stage   mailtest.Stage
		code    int
		dropped bool
	}{
		{mailtest.AtRcpt, 550, true},
		{mailtest.AtData, 554, true},
		{mailtest.AtRcpt, 450, false},
		{mailtest.AtData, 451, false},
		{mailtest.AtMail, 553, false},
	} {
		t.Run(string(tc.stage)+strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, mailtest.StartTLS)
			m := f.mailer(t, nil, f.config())
			f.smtp.Refuse(tc.stage, tc.code)
			f.queue(t, m, true, verify("refused@example.com"))
			sendDue(t, m, 0)
			row := f.outbox(t)[0]
			require.Contains(t, row.LastError, strconv.Itoa(tc.code))
			if tc.dropped {
				require.Equal(t, outboxmail.StateDropped, row.State)
				require.Equal(t, 1.0, f.counter(t, `bitgate_mail_dropped_total{kind="verify-email",reason="rejected"}`))
				require.Contains(t, f.log.String(), "reason=rejected")
				return
			}
			require.Equal(t, outboxmail.StatePending, row.State)
			require.Equal(t, 1.0, f.counter(t, `bitgate_mail_retried_total{kind="verify-email"}`))
			f.smtp.Refuse("", 0)
			f.clock.Advance(30 * time.Second)
			sendDue(t, m, 1)
		})
	}
}

// TestTLS: smtps:// speaks TLS at once and smtp:// STARTTLS, each with
// credentials; smtp:// refuses a server that does not offer STARTTLS
// rather than send in the clear; wrong credentials fail.
func TestTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, err string
		mode      mailtest.Mode
		url       func(*mailtest.Server) string
	}{
		{name: "smtps", mode: mailtest.ImplicitTLS, url: (*mailtest.Server).URL},
		{name: "starttls", mode: mailtest.StartTLS, url: (*mailtest.Server).URL},
		{name: "relay", mode: mailtest.Plain, url: (*mailtest.Server).URL},
		{name: "no starttls", mode: mailtest.Plain, err: "STARTTLS",
			url: func(s *mailtest.Server) string { return "smtp://" + s.Addr() }},
		{name: "wrong password", mode: mailtest.StartTLS, err: "535",
			url: func(s *mailtest.Server) string { return "smtp://" + mailtest.User + ":wrong@" + s.Addr() }},
		{name: "untrusted certificate", mode: mailtest.ImplicitTLS, err: "certificate",
			url: func(s *mailtest.Server) string { return s.URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.mode)
			cfg := f.config()
			cfg.SMTPURL = tc.url(f.smtp)
			opts := f.options(t)
			if tc.name == "untrusted certificate" {
				opts.TLS = nil
			}
			m, err := mail.New(f.db, cfg, opts)
			require.NoError(t, err)
			result, err := m.SendTest(t.Context(), "tester@example.com")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Empty(t, f.smtp.Received())
				return
			}
			require.NoError(t, err)
			require.Contains(t, result, "accepted by "+f.smtp.Addr())
			got := f.smtp.Next(t)
			require.Equal(t, "Test mail from Acme", got.Header(t, "Subject"))
			require.Contains(t, got.Text(t), "can send mail to tester@example.com")
		})
	}
}

// TestSMTPTimeout: a server that accepts the connection and never answers
// fails the attempt after SMTP_TIMEOUT, and the mail is retried.
func TestSMTPTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.Plain)
	cfg := f.config()
	cfg.SMTPURL, cfg.Timeout = "smtp://"+mailtest.Silent(t)+"?tls=none", 200*time.Millisecond
	m := f.mailer(t, nil, cfg)
	start := time.Now()
	_, err := m.SendTest(t.Context(), "a@example.com")
	require.ErrorContains(t, err, "timeout")
	// A bound far above 200ms on any machine, far below go-mail's default
	// of 15s.
	require.Less(t, time.Since(start), 5*time.Second, "SMTP_TIMEOUT was not applied")
	f.queue(t, m, true, verify("a@example.com"))
	sendDue(t, m, 0)
	require.Contains(t, f.outbox(t)[0].LastError, "timeout")
	require.Equal(t, 1.0, f.counter(t, `bitgate_mail_retried_total{kind="verify-email"}`))
}

// TestDevelopmentWritesFiles: without SMTP_URL in development, each mail
// is an .eml file (owner-only, its link readable as it is) and a log line
// that names the file and the recipient, not the token.
func TestDevelopmentWritesFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.Plain)
	opts := f.options(t)
	m, err := mail.New(f.db, settings.Default[mail.Config](), opts)
	require.NoError(t, err)
	f.queue(t, m, true, verify("dev@example.com"))
	sendDue(t, m, 1)

	files, err := filepath.Glob(filepath.Join(opts.Dir, "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	info, err := os.Stat(files[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	link := mail.DevPublicURL + "/verify-email?token=" + token
	require.Contains(t, string(raw), "\r\n"+link+"\r\n", "the link as it is in the file")
	parts, err := mailtest.Parts(raw)
	require.NoError(t, err)
	require.Contains(t, parts["text/html"], link)
	require.Regexp(t, `msg="mail written to a file \(no SMTP_URL\)" kind=verify-email to=dev@example.com file=`+regexp.QuoteMeta(files[0]), f.log.String())
	require.Empty(t, f.smtp.Received())

	result, err := m.SendTest(t.Context(), "dev@example.com")
	require.NoError(t, err)
	require.Contains(t, result, "written to "+opts.Dir)
}

// TestProductionNeedsSMTP: production refuses to start without SMTP_URL or
// with a PUBLIC_URL that is not https, unless mail is disabled; then
// every operation that would send mail answers ErrDisabled.
func TestProductionNeedsSMTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	opts := f.options(t)
	opts.Production = true

	_, err := mail.New(f.db, configWith(func(c *mail.Config) { c.PublicURL = publicURL }), opts)
	require.ErrorContains(t, err, "SMTP_URL is not set")
	require.ErrorContains(t, err, "MAIL_DISABLED=true")
	cfg := f.config()
	cfg.PublicURL = ""
	_, err = mail.New(f.db, cfg, opts)
	require.ErrorContains(t, err, "PUBLIC_URL")
	cfg.PublicURL = "http://app.example.com"
	_, err = mail.New(f.db, cfg, opts)
	require.ErrorContains(t, err, "https")
	_, err = mail.New(f.db, configWith(func(c *mail.Config) { c.Disabled, c.SMTPURL = true, f.smtp.URL() }), opts)
	require.ErrorContains(t, err, "contradict")
	m, err := mail.New(f.db, f.config(), opts)
	require.NoError(t, err)
	require.False(t, m.Disabled())

	m, err = mail.New(f.db, configWith(func(c *mail.Config) { c.Disabled = true }), opts)
	require.NoError(t, err)
	require.True(t, m.Disabled())
	tx, err := f.db.Client.Tx(t.Context())
	require.NoError(t, err)
	require.ErrorIs(t, m.Queue(t.Context(), tx, verify("a@example.com")), mail.ErrDisabled)
	require.NoError(t, tx.Commit())
	_, err = m.SendTest(t.Context(), "a@example.com")
	require.ErrorIs(t, err, mail.ErrDisabled)
	_, err = m.SendDue(t.Context())
	require.ErrorIs(t, err, mail.ErrDisabled)
	m.Run(t.Context()) // returns at once
	require.Empty(t, f.outbox(t))
}

// TestNoTokenInLogs runs a mail through every path that logs (sent,
// deferred, refused, expired, a file) and finds the token in no log line,
// though it is in the mail.
func TestNoTokenInLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	cfg := f.config()
	cfg.GiveUpAfter = time.Minute
	m := f.mailer(t, nil, cfg)
	f.queue(t, m, true, verify("sent@example.com"))
	sendDue(t, m, 1)
	require.Contains(t, f.smtp.Next(t).Text(t), token)

	f.smtp.Refuse(mailtest.AtData, 554)
	f.queue(t, m, true, verify("refused@example.com"))
	sendDue(t, m, 0)
	f.smtp.Refuse(mailtest.AtData, 451)
	f.queue(t, m, true, verify("expired@example.com"))
	sendDue(t, m, 0)
	f.clock.Advance(2 * time.Minute)
	sendDue(t, m, 0)

	dev, err := mail.New(f.db, settings.Default[mail.Config](), f.options(t))
	require.NoError(t, err)
	f.queue(t, dev, true, verify("file@example.com"))
	sendDue(t, dev, 1)

	log := f.log.String()
	for _, line := range []string{"mail sent", "mail not sent; retrying", "reason=rejected", "reason=expired", "mail written to a file"} {
		require.Contains(t, log, line)
	}
	require.NotContains(t, log, token)
	require.NotContains(t, log, url.QueryEscape(token))
}

// TestPrune deletes the rows of mail sent or dropped more than KeepDone
// ago, and keeps the rest, pending mail above all.
func TestPrune(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	m := f.mailer(t, nil, f.config())
	f.queue(t, m, true, verify("old@example.com"))
	sendDue(t, m, 1)
	f.smtp.Refuse(mailtest.AtRcpt, 550)
	f.queue(t, m, true, verify("old-dropped@example.com"))
	sendDue(t, m, 0)
	f.smtp.Refuse(mailtest.AtRcpt, 450)
	f.queue(t, m, true, verify("pending@example.com"))
	sendDue(t, m, 0)
	f.clock.Advance(mail.KeepDone + time.Second)
	claimed, err := m.ClaimAndDie(t.Context()) // pending's sender is sending it
	require.NoError(t, err)
	require.True(t, claimed)
	f.smtp.Refuse("", 0)
	f.queue(t, m, true, verify("recent@example.com"))
	sendDue(t, m, 1)

	n, err := m.Prune(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	var left []string
	for _, r := range f.outbox(t) {
		left = append(left, r.Recipient)
	}
	require.ElementsMatch(t, []string{"pending@example.com", "recent@example.com"}, left)
}
