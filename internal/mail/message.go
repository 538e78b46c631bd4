package mail

import (
	"fmt"
	"time"
)

// Kind names a mail and its templates (Kind.txt and Kind.html).
type Kind string

// The kinds of mail.
const (
	KindVerifyEmail         Kind = "verify-email"
	KindResetPassword       Kind = "reset-password"
	KindConfirmEmailChange  Kind = "confirm-email-change"
	KindEmailChanged        Kind = "email-changed"
	KindPasswordChanged     Kind = "password-changed"
	KindSecondFactorAdded   Kind = "second-factor-added"
	KindSecondFactorRemoved Kind = "second-factor-removed"
	KindWrongCodes          Kind = "wrong-codes"
	KindTest                Kind = "test"
)

// Kinds lists every kind.
var Kinds = []Kind{
	KindVerifyEmail, KindResetPassword, KindConfirmEmailChange, KindEmailChanged,
	KindPasswordChanged, KindSecondFactorAdded, KindSecondFactorRemoved, KindWrongCodes, KindTest,
}

// linkPaths are the paths under PUBLIC_URL of the links of the kinds that
// carry a token.
var linkPaths = map[Kind]string{
	KindVerifyEmail:        "/verify-email",
	KindResetPassword:      "/reset-password",
	KindConfirmEmailChange: "/confirm-email-change",
}

// Data is what a template sees. Every field is there for every kind; those
// a kind does not use are empty.
type Data struct {
	// Product is MAIL_PRODUCT_NAME.
	Product string
	// PublicURL is PUBLIC_URL, without a trailing slash.
	PublicURL string
	// To is the recipient's address.
	To string
	// Time is when the mail was queued, in UTC ("7 December 2026 04:57 UTC").
	Time string
	// Link is PUBLIC_URL + path + "?token=" + the token, for
	// verify-email, reset-password and confirm-email-change. The text
	// template must show it as it is.
	Link string
	// ValidFor says how long Link works ("24 hours", "1 hour").
	ValidFor string
	// OldEmail is the address being replaced (confirm-email-change,
	// email-changed).
	OldEmail string
	// NewEmail is the address replacing it (confirm-email-change,
	// email-changed).
	NewEmail string
	// ByAdmin is true when an administrator set the password
	// (password-changed) or removed the second factors
	// (second-factor-removed).
	ByAdmin bool
	// Factor names the second factor (second-factor-added,
	// second-factor-removed), such as "TOTP" or "passkey".
	Factor string
	// SessionEnded is true when wrong second-factor codes ended the
	// session they were sent in (wrong-codes).
	SessionEnded bool
	// LockedFor says how long wrong codes locked signing in ("15
	// minutes"), empty if they did not (wrong-codes).
	LockedFor string
}

// Message is a mail to queue: one of VerifyEmail, ResetPassword,
// ConfirmEmailChange, EmailChanged, PasswordChanged, SecondFactorAdded,
// SecondFactorRemoved and WrongCodes.
type Message interface {
	envelope() envelope
}

// envelope is what a Message says: its kind, recipient, token (for the
// kinds with a link) and the data of its own.
type envelope struct {
	kind     Kind
	to       string
	token    string
	validFor time.Duration
	data     Data
}

// VerifyEmail asks the owner of To to prove it is theirs, with a link to
// PUBLIC_URL/verify-email carrying Token, which works for ValidFor.
type VerifyEmail struct {
	To, Token string
	ValidFor  time.Duration
}

// ResetPassword sends To a link to PUBLIC_URL/reset-password carrying
// Token, which works for ValidFor.
type ResetPassword struct {
	To, Token string
	ValidFor  time.Duration
}

// ConfirmEmailChange sends the new address To a link to
// PUBLIC_URL/confirm-email-change carrying Token, which works for
// ValidFor, to replace OldEmail.
type ConfirmEmailChange struct {
	To, OldEmail, Token string
	ValidFor            time.Duration
}

// EmailChanged tells the old address To that the account's email is now
// NewEmail, or is about to be.
type EmailChanged struct{ To, NewEmail string }

// PasswordChanged tells To that the account's password changed; ByAdmin
// says an administrator set it.
type PasswordChanged struct {
	To      string
	ByAdmin bool
}

// SecondFactorAdded tells To that Factor (such as "TOTP") now guards the
// account.
type SecondFactorAdded struct{ To, Factor string }

// SecondFactorRemoved tells To that Factor no longer guards the account;
// ByAdmin when an administrator removed every second factor (Factor then
// lists them: "TOTP, 10 recovery codes and 1 passkey").
type SecondFactorRemoved struct {
	To, Factor string
	ByAdmin    bool
}

// WrongCodes tells To that someone who had the password sent wrong
// second-factor codes, which ended their session (SessionEnded) or locked
// signing in for LockedFor (0: not locked), or both.
type WrongCodes struct {
	To           string
	SessionEnded bool
	LockedFor    time.Duration
}

// testMail is the mail of SendTest.
type testMail struct{ To string }

func (m VerifyEmail) envelope() envelope {
	return envelope{kind: KindVerifyEmail, to: m.To, token: m.Token, validFor: m.ValidFor}
}

func (m ResetPassword) envelope() envelope {
	return envelope{kind: KindResetPassword, to: m.To, token: m.Token, validFor: m.ValidFor}
}

func (m ConfirmEmailChange) envelope() envelope {
	return envelope{kind: KindConfirmEmailChange, to: m.To, token: m.Token, validFor: m.ValidFor,
		data: Data{OldEmail: m.OldEmail, NewEmail: m.To}}
}

func (m EmailChanged) envelope() envelope {
	return envelope{kind: KindEmailChanged, to: m.To, data: Data{OldEmail: m.To, NewEmail: m.NewEmail}}
}

func (m PasswordChanged) envelope() envelope {
	return envelope{kind: KindPasswordChanged, to: m.To, data: Data{ByAdmin: m.ByAdmin}}
}

func (m SecondFactorAdded) envelope() envelope {
	return envelope{kind: KindSecondFactorAdded, to: m.To, data: Data{Factor: m.Factor}}
}

func (m SecondFactorRemoved) envelope() envelope {
	return envelope{kind: KindSecondFactorRemoved, to: m.To, data: Data{Factor: m.Factor, ByAdmin: m.ByAdmin}}
}

func (m WrongCodes) envelope() envelope {
	d := Data{SessionEnded: m.SessionEnded}
	if m.LockedFor > 0 {
		d.LockedFor = duration(m.LockedFor)
	}
	return envelope{kind: KindWrongCodes, to: m.To, data: d}
}

func (m testMail) envelope() envelope { return envelope{kind: KindTest, to: m.To} }

// duration writes d for a person: "24 hours", "1 hour", "30 minutes".
func duration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}
