package account

import (
	"context"
	"fmt"
	"time"

	"bitgate/ent/emailtoken"
	"bitgate/ent/lockout"
	"bitgate/ent/session"
	"bitgate/ent/signinattempt"
	"bitgate/ent/webauthnchallenge"
)

// pruneAfter is how long ended sessions and stale lockout counts are kept:
// long past any access token of theirs.
const pruneAfter = 24 * time.Hour

// Prune deletes sessions that expired or were revoked more than a day ago
// (with their spent tokens), lockout rows idle for a day, sign-in attempts
// lapsed for a day (left by a crashed instance), the tokens of mailed
// links that expired, WebAuthn ceremonies begun and lapsed unfinished,
// and audit events older than Options.AuditRetention. It is safe to run
// on every instance at once. Returns how many rows went.
func (s *Service) Prune(ctx context.Context) (int, error) {
	before := s.now().Add(-pruneAfter)
	sessions, err := s.client.Session.Delete().
		Where(session.Or(session.ExpiresAtLT(before), session.RevokedAtLT(before))).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	lockouts, err := s.client.Lockout.Delete().
		Where(lockout.UpdatedAtLT(before), lockout.Or(lockout.LockedUntilIsNil(), lockout.LockedUntilLT(s.now()))).
		Exec(ctx)
	if err != nil {
		return sessions, fmt.Errorf("prune lockouts: %w", err)
	}
	// Attempts a crashed instance left reserved, lapsed long ago.
	attempts, err := s.client.SigninAttempt.Delete().Where(signinattempt.ExpiresAtLT(before)).Exec(ctx)
	if err != nil {
		return sessions + lockouts, fmt.Errorf("prune sign-in attempts: %w", err)
	}
	tokens, err := s.client.EmailToken.Delete().Where(emailtoken.ExpiresAtLT(s.now())).Exec(ctx)
	n := sessions + lockouts + attempts + tokens
	if err != nil {
		return n, fmt.Errorf("prune expired email tokens: %w", err)
	}
	challenges, err := s.client.WebauthnChallenge.Delete().Where(webauthnchallenge.ExpiresAtLT(s.now())).Exec(ctx)
	n += challenges
	if err != nil {
		return n, fmt.Errorf("prune WebAuthn challenges: %w", err)
	}
	events, err := s.pruneAudit(ctx)
	if err != nil {
		return n + events, fmt.Errorf("prune audit events: %w", err)
	}
	return n + events, nil
}
