package mail_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/mail"
	"bitgate/internal/mail/mailtest"
	"bitgate/internal/settings"
)

// writeTemplate writes a template file into dir.
func writeTemplate(t *testing.T, dir, name, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
}

// TestTemplateOverride: a file in MAIL_TEMPLATES_DIR replaces the built-in
// template of its name, and only that one.
func TestTemplateOverride(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	cfg := f.config()
	cfg.TemplatesDir = t.TempDir()
	writeTemplate(t, cfg.TemplatesDir, "reset-password.txt",
		`{{define "subject"}}{{.Product}}: new password{{end}}{{define "body"}}Go to {{.Link}} within {{.ValidFor}}.{{end}}`)
	writeTemplate(t, cfg.TemplatesDir, "layout.txt", `{{template "body" .}} -- {{.Product}} team`)
	writeTemplate(t, cfg.TemplatesDir, "README.md", "notes an operator keeps beside the templates")
	m := f.mailer(t, nil, cfg)
	f.queue(t, m, true, mail.ResetPassword{To: "r@example.com", Token: token, ValidFor: 90 * time.Minute})
	sendDue(t, m, 1)
	got := f.smtp.Next(t)
	require.Equal(t, "Acme: new password", got.Header(t, "Subject"))
	parts := got.Parts(t)
	require.Equal(t, "Go to "+publicURL+"/reset-password?token="+token+" within 90 minutes. -- Acme team", parts["text/plain"])
	require.Contains(t, parts["text/html"], "Choose a new password", "the built-in HTML")
}

// TestBrokenTemplatesRefuseToStart: a template that does not parse, uses a
// variable that does not exist, leaves out its link or its subject, or a
// file name that is no template's, stops New with an error naming the
// file.
func TestBrokenTemplatesRefuseToStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	for _, tc := range []struct{ file, text, err string }{
		{"verify-email.txt", `{{define "subject"}}Hi{{end}}{{define "body"}}{{.Link}{{end}}`, "verify-email.txt"},
		{"verify-email.html", `{{define "body"}}{{.Token}}{{end}}`, "can't evaluate field Token"},
		{"layout.html", `{{template "body" .}}{{.Nope}}`, "can't evaluate field Nope"},
		{"reset-password.txt", `{{define "subject"}}Reset{{end}}{{define "body"}}Go to {{.PublicURL}}/reset-password{{end}}`,
			"reset-password.txt: does not show {{.Link}} as it is"},
		{"password-changed.txt", `{{define "body"}}Changed{{end}}`, `password-changed.txt, built-in mail template layout.html, built-in mail template password-changed.html): template: no template "subject"`},
		{"password-changed.txt", `{{define "subject"}} {{end}}{{define "body"}}Changed{{end}}`, `password-changed.txt: defines no "subject", or an empty one`},
		{"verify-emial.txt", `anything`, "verify-emial.txt is not a mail template"},
	} {
		dir := t.TempDir()
		writeTemplate(t, dir, tc.file, tc.text)
		cfg := f.config()
		cfg.TemplatesDir = dir
		_, err := mail.New(f.db, cfg, f.options(t))
		require.ErrorContains(t, err, tc.err, tc.file)
		require.ErrorContains(t, err, dir, "the error names the directory")
	}
	cfg := f.config()
	cfg.TemplatesDir = filepath.Join(t.TempDir(), "missing")
	_, err := mail.New(f.db, cfg, f.options(t))
	require.ErrorContains(t, err, "MAIL_TEMPLATES_DIR")
}

// TestEveryKindRenders sends one mail of each kind and finds its own
// variables in both parts.
func TestEveryKindRenders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mailtest.StartTLS)
	m := f.mailer(t, nil, f.config())
	for _, tc := range []struct {
		msg  mail.Message
		want []string
	}{
		{mail.EmailChanged{To: "old@example.com", NewEmail: "new@example.com"}, []string{"old@example.com", "new@example.com"}},
		{mail.PasswordChanged{To: "p@example.com"}, []string{"someone changed the password"}},
		{mail.PasswordChanged{To: "p@example.com", ByAdmin: true}, []string{"an administrator set a new password"}},
		{mail.SecondFactorAdded{To: "f@example.com", Factor: "TOTP"}, []string{"TOTP", "was added"}},
		{mail.SecondFactorRemoved{To: "f@example.com", Factor: "passkey"}, []string{"passkey", "was removed"}},
		{mail.SecondFactorRemoved{To: "f@example.com", Factor: "TOTP and 10 recovery codes", ByAdmin: true},
			[]string{"an administrator removed the second factors", "TOTP and 10 recovery codes", "password alone"}},
	} {
		f.queue(t, m, true, tc.msg)
		sendDue(t, m, 1)
		parts := f.smtp.Next(t).Parts(t)
		for _, w := range append(tc.want, f.clock.Now().UTC().Format("2 January 2006 15:04 UTC")) {
			require.Contains(t, parts["text/plain"], w)
			require.Contains(t, parts["text/html"], w)
		}
	}
}

// TestSMTPURL holds SMTP_URL's forms to what the docs say, and no error to
// showing its password.
func TestSMTPURL(t *testing.T) {
	t.Parallel()
	const from = "a@example.com"
	for _, tc := range []struct{ url, err string }{
		{"smtps://user:pass@mail.example.com:465", ""},
		{"smtps://user:pass@mail.example.com", ""},
		{"smtp://user:pass@mail.example.com:587", ""},
		{"smtp://localhost:25?tls=none", ""},
		{"smtp://relay?tls=none", ""},
		{"http://user:s3cret@mail.example.com", `must start with smtps:// or smtp://, not "http:"`},
		{"smtp://user:s3cret@:587", "names no host"},
		{"smtp://user:s3cret@mail.example.com:99999", "is not a port number"},
		{"smtp://user:s3cret@mail.example.com:587/path", "only the scheme"},
		{"smtp://user:s3cret@mail.example.com:587?tls=none", "no credentials with tls=none"},
		{"smtps://mail.example.com?tls=none", "tls=none goes with smtp:// only"},
		{"smtp://mail.example.com?tls=optional", "tls may only be none"},
		{"smtp://mail.example.com?auth=plain", `unknown parameter "auth"`},
		{"smtp://user:s3cret@mail example.com", "is not a URL"},
	} {
		cfg := configWith(func(c *mail.Config) { c.SMTPURL, c.From = tc.url, from })
		err := cfg.Validate()
		if tc.err == "" {
			require.NoError(t, err, tc.url)
			continue
		}
		require.ErrorContains(t, err, tc.err, tc.url)
		require.NotContains(t, err.Error(), "s3cret", "the error shows the password")
	}
	for _, tc := range []struct {
		change func(c *mail.Config)
		err    string
	}{
		{func(c *mail.Config) { c.SMTPURL = "smtp://localhost?tls=none" }, "MAIL_FROM must be set"},
		{func(c *mail.Config) { c.From = "not an address" }, "MAIL_FROM"},
		{func(c *mail.Config) { c.From = "a@example.com, b@example.com" }, "MAIL_FROM"},
		{func(c *mail.Config) { c.PublicURL = "app.example.com" }, "PUBLIC_URL"},
		{func(c *mail.Config) { c.PublicURL = "https://app.example.com/?next=1" }, "PUBLIC_URL"},
		{func(c *mail.Config) { c.PublicURL = "javascript:alert(1)" }, "PUBLIC_URL"},
		{func(c *mail.Config) { c.ProductName = "Acme\r\nBcc: x@example.com" }, "MAIL_PRODUCT_NAME"},
		{func(c *mail.Config) { c.ProductName = "" }, "MAIL_PRODUCT_NAME"},
		{func(c *mail.Config) { c.GiveUpAfter = -time.Hour }, "MAIL_GIVE_UP_AFTER must be positive"},
		{func(c *mail.Config) { c.Interval = 0 }, "MAIL_INTERVAL must be positive"},
		{func(c *mail.Config) { c.PerHour = 0 }, "MAIL_PER_HOUR must be positive"},
	} {
		cfg := configWith(tc.change)
		require.ErrorContains(t, cfg.Validate(), tc.err, "%+v", cfg)
	}
}

// TestEveryFieldIsASetting: each field of Config is a setting, with its
// environment variable, help and a flag name in the house's form; their
// declared defaults validate, and a Config built without them (the zero
// one) is refused rather than run with zero limits.
func TestEveryFieldIsASetting(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[mail.Config]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		require.NotEmpty(t, field.Tag.Get("env"), "%s is not a setting", field.Name)
		require.NotEmpty(t, field.Tag.Get("help"), "%s has no help", field.Name)
		require.False(t, strings.Contains(field.Tag.Get("flag"), "_"), field.Name)
	}
	defaults := settings.Default[mail.Config]()
	require.NoError(t, defaults.Validate())
	require.Error(t, new(mail.Config).Validate())
}
