// Package account is the domain layer of users and sessions: sign-up,
// sign-in, refresh-token rotation, sign-out, request authentication and the
// rules on changing users. It returns *apperr.Error for every answer a client
// may see, and wrapped errors for everything else.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
)

// Options are the session settings of a Service.
type Options struct {
	// RefreshTTL is how long a session lives without being refreshed.
	RefreshTTL time.Duration
	// ReuseGrace is how long after a rotation the spent refresh token is
	// refused without revoking the session (a client's lost response, or
	// two tabs refreshing at once).
	ReuseGrace time.Duration
	// MaxSessions is how many live sessions a user may have: a session
	// started past it ends the user's least recently used one. 0 means
	// DefaultMaxSessions.
	MaxSessions int
	// Limiter limits signin, signup and refresh per client address; nil
	// means no limit.
	Limiter Limiter
	// IPv6Prefix is how many leading bits of an IPv6 address the limits
	// count as one client; 0 means clientip.DefaultIPv6Prefix (64). An
	// IPv4 address is always a client of its own.
	IPv6Prefix int
	// AuditRetention is how long audit events are kept before Prune
	// deletes them; 0 keeps them forever (DefaultAuditRetention is the
	// server's default).
	AuditRetention time.Duration
	// Logger receives security events; nil means slog.Default().
	Logger *slog.Logger
	// Events, if set, is told the action of every security event as it is
	// audited (signin.failed, refresh.reuse_detected, ...), for metrics.
	Events func(action string)
	// Now is the clock of sessions, lockouts and rate limits; nil means
	// time.Now. Tests pass a clock they advance.
	Now func() time.Time
}

// DefaultMaxSessions is the default cap on a user's live sessions: one
// sign-in a day for the whole of the default refresh-token lifetime (30
// days), on as many devices and browsers as a person uses. It also keeps an
// ADMIN's page of 100 users with their sessions' ids under the default
// complexity limit, since lists of sessions are priced at the cap.
const DefaultMaxSessions = 30

// DefaultAuditRetention is how long the server keeps audit events unless
// told otherwise: 90 days.
const DefaultAuditRetention = 90 * 24 * time.Hour

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
	opts   Options
	log    *slog.Logger
	now    func() time.Time
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
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	return &Service{client: client, tokens: tokens, hasher: hasher, opts: opts, log: log, now: now}
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
	SessionID    uuid.UUID // not in the API; for logs
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
