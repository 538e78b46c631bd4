// Package account is the domain layer of users and sessions: sign-up,
// sign-in, refresh-token rotation, sign-out, request authentication, the
// rules on changing users, the mailed links (email verification, password
// reset, email change) and second factors (TOTP, recovery codes,
// passkeys). It returns *apperr.Error for every answer a client
// may see, and wrapped errors for everything else.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
	"bitgate/internal/keys"
	"bitgate/internal/mail"
	"bitgate/internal/passkey"
	"bitgate/internal/settings"
)

// Options are the session settings of a Service. The tagged fields are
// settings (see internal/settings), with their defaults; the others are
// filled in by the caller.
type Options struct {
	// RefreshTTL is how long a session lives without being refreshed.
	RefreshTTL time.Duration `flag:"refresh-ttl" env:"REFRESH_TOKEN_TTL" default:"720h" help:"refresh token (session) lifetime"`
	// ReuseGrace is how long after a rotation the spent refresh token is
	// refused without revoking the session (a client's lost response, or
	// two tabs refreshing at once).
	ReuseGrace time.Duration `flag:"refresh-reuse-grace" env:"REFRESH_REUSE_GRACE" default:"10s" help:"how long a spent refresh token is refused without revoking its session"`
	// MaxSessions is how many live sessions a user may have: a session
	// started past it ends the user's least recently used one. The default
	// allows one sign-in a day for the whole of the default refresh-token
	// lifetime (30 days), on as many devices and browsers as a person
	// uses, and keeps an ADMIN's page of 100 users with their sessions' ids
	// under the default complexity limit, since lists of sessions are
	// priced at the cap.
	MaxSessions int `flag:"max-sessions-per-user" env:"MAX_SESSIONS_PER_USER" default:"30" help:"live sessions a user may have; a session started past it ends the least recently used one"`
	// IPv6Prefix is how many leading bits of an IPv6 address the limits
	// count as one client: by default a /64, the smallest network a home,
	// a phone or a server is usually given, so that its owner, who holds
	// every address in it, cannot take a fresh budget from each. An IPv4
	// address is always a client of its own.
	IPv6Prefix int `flag:"rate-limit-ipv6-prefix" env:"RATE_LIMIT_IPV6_PREFIX" default:"64" help:"leading bits of an IPv6 address that the per-address limits count as one client"`
	// AuditRetention is how long audit events are kept before Prune
	// deletes them (90 days by default); 0 keeps them forever.
	AuditRetention time.Duration `flag:"audit-retention" env:"AUDIT_RETENTION" default:"2160h" help:"how long audit events are kept (0: forever)"`
	// EmailVerification is optional or required: with required, fields
	// under @hasPermission answer FORBIDDEN (EMAIL_NOT_VERIFIED) until the
	// caller's email is verified.
	EmailVerification string `flag:"email-verification" env:"EMAIL_VERIFICATION" default:"optional" help:"optional, or required: fields under @hasPermission answer FORBIDDEN (EMAIL_NOT_VERIFIED) until the caller's email is verified"`
	// RequireAdminMFA makes the ADMIN bit count only in sessions that
	// passed a second factor: an ADMIN without one may still sign in and
	// set one up, but whatever needs ADMIN answers MFA_REQUIRED until
	// their session passes one.
	RequireAdminMFA bool `flag:"require-admin-mfa" env:"REQUIRE_ADMIN_MFA" help:"ADMIN counts only in sessions that passed a second factor (TOTP or a passkey)"`
	// TOTPIssuer names the service in authenticator apps: the issuer of
	// the otpauth:// URIs of enrollTotp.
	TOTPIssuer string `flag:"totp-issuer" env:"TOTP_ISSUER" default:"bitgate" help:"the service's name in authenticator apps (the issuer of TOTP's otpauth:// URIs)"`
	// TOTPSecrets seals the users' TOTP secrets (see keys.Sealer); nil
	// turns TOTP off: enrollTotp answers FORBIDDEN.
	TOTPSecrets *keys.Sealer
	// Passkeys is the WebAuthn relying party of passkeys; nil turns them
	// off: their operations answer FORBIDDEN.
	Passkeys *passkey.RelyingParty
	// Mailer queues the account's mail (links and notices); nil, or a
	// disabled one, means no mail: the operations that must send some
	// answer FORBIDDEN (MAIL_DISABLED), and notices are skipped.
	Mailer *mail.Mailer
	// Limiter limits signin, signup and refresh, and the second-factor
	// operations, per client address; nil means no limit.
	Limiter Limiter
	// Logger receives security events; nil means slog.Default().
	Logger *slog.Logger
	// Events, if set, is told the action of every security event as it is
	// audited (signin.failed, refresh.reuse_detected, ...), for metrics.
	Events func(action string)
	// Now is the clock of sessions, lockouts and rate limits; nil means
	// time.Now. Tests pass a clock they advance.
	Now func() time.Time
}

// Validate returns an error naming the first setting of o out of range:
// RefreshTTL must be positive, MaxSessions at least 1, ReuseGrace and
// AuditRetention not negative, IPv6Prefix 1 to 128, and EmailVerification
// optional or required.
func (o *Options) Validate() error {
	switch {
	case o.RefreshTTL <= 0:
		return errors.New("REFRESH_TOKEN_TTL must be positive")
	case o.MaxSessions < 1:
		return errors.New("MAX_SESSIONS_PER_USER must be at least 1")
	case o.ReuseGrace < 0:
		return errors.New("REFRESH_REUSE_GRACE must not be negative")
	case o.AuditRetention < 0:
		return errors.New("AUDIT_RETENTION must not be negative")
	case o.IPv6Prefix < 1 || o.IPv6Prefix > 128:
		return fmt.Errorf("RATE_LIMIT_IPV6_PREFIX must be 1 to 128, not %d", o.IPv6Prefix)
	case o.EmailVerification != "optional" && o.EmailVerification != "required":
		return fmt.Errorf("EMAIL_VERIFICATION must be optional or required, not %q", o.EmailVerification)
	}
	return nil
}

// Limiter takes a token from a key's bucket at now, reporting whether it
// could and if not how long until it can: ratelimit.Limiter in one
// process, ratelimit.Shared for every instance on a PostgreSQL database.
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (ok bool, wait time.Duration, err error)
}

// Service implements the account operations on an ent client.
type Service struct {
	client *ent.Client
	tokens *auth.Tokens
	hasher *auth.Hasher
	mail   *mail.Mailer // nil when mail is disabled
	opts   Options
	log    *slog.Logger
	now    func() time.Time

	// detached holds a place for each piece of work running after its
	// request was answered (see afterAnswer); done counts them.
	detached chan struct{}
	done     sync.WaitGroup
}

// NewService returns a Service storing users and sessions through client,
// signing access tokens with tokens and hashing passwords with hasher.
func NewService(client *ent.Client, tokens *auth.Tokens, hasher *auth.Hasher, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.MaxSessions <= 0 { // a service built without its settings
		opts.MaxSessions = settings.Default[Options]().MaxSessions
	}
	m := opts.Mailer
	if m != nil && m.Disabled() {
		m = nil
	}
	return &Service{client: client, tokens: tokens, hasher: hasher, mail: m, opts: opts, log: log, now: now,
		detached: make(chan struct{}, maxDetached)}
}

// MaxSessions returns how many live sessions a user may have.
func (s *Service) MaxSessions() int { return s.opts.MaxSessions }

// Payload is what signup, signin and refresh answer.
type Payload struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	ExpiresIn    int
	User         *ent.User
	// MFARequired says that the session waits for its second factor
	// (verifySecondFactor); its access token works for me and signout
	// only.
	MFARequired bool
	SessionID   uuid.UUID // not in the API; for logs and tests
}

// hashPassword hashes a password in the bounded pool. Returns RATE_LIMITED
// when the pool is full.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return "", hasherError(err)
	}
	return h, nil
}

// hasherError turns a full hashing pool, or a deadline that passed while
// waiting for it, into RATE_LIMITED.
func hasherError(err error) error {
	if errors.Is(err, auth.ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		e := apperr.Limited("too many sign-ins at once, retry shortly", time.Second)
		e.Err = err
		return e
	}
	return fmt.Errorf("password hashing: %w", err)
}
