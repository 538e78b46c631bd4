package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/lockout"
	"bitgate/ent/signinattempt"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
)

// The contract's lockout: 5 failed sign-ins in a row for one email lock it
// for 15 minutes, whatever the password. Wrong second-factor codes count
// as failed sign-ins (see checkCode).
const (
	lockoutFailures = 5
	lockoutDuration = 15 * time.Minute
)

// Only a checked password that did not match is a failure. So that
// concurrent guesses cannot all be checked before the first failure is
// stored, a sign-in first reserves an attempt: a SigninAttempt row, granted
// only while the email's failures plus its attempts in flight stay under
// lockoutFailures. Callers past that wait until they can reserve one
// (polling, since other instances may hold the attempts) or their context
// ends. An attempt is released when the check ends, whatever its outcome,
// on a context the client cannot cancel; one left by a crash lapses after
// attemptLease, and the check itself is bounded well below it, so a live
// check never outlasts its attempt.
const (
	attemptLease   = time.Minute
	attemptTimeout = 45 * time.Second // reserving an attempt and checking the password
	settleTimeout  = 5 * time.Second  // storing the outcome once the check is over
	pollFirst      = 10 * time.Millisecond
	pollMax        = 200 * time.Millisecond
)

// attempt is a reserved SigninAttempt row: leave to check one password for
// email.
type attempt struct {
	id    int
	email string
}

// reserveAttempt reserves an attempt to check a password for email,
// waiting until one is free. Returns RATE_LIMITED, with the seconds left,
// while the email is locked, or when ctx's deadline passes before an
// attempt frees (with ctx's error as the cause); ctx's error when it is
// cancelled first; or an error if the database fails.
func (s *Service) reserveAttempt(ctx context.Context, email string) (*attempt, error) {
	wait := pollFirst
	for {
		a, lockedUntil, err := s.tryReserve(ctx, email)
		if a != nil || err != nil || !lockedUntil.IsZero() {
			return a, s.lockedError(lockedUntil, err)
		}
		// Every attempt is reserved. Wait until a plain read sees one free,
		// so that waiters do not queue for the write lock (SQLite's, or the
		// lockout row's) while nothing changes.
		for free := false; !free; wait = min(2*wait, pollMax) {
			timer := time.NewTimer(wait/2 + rand.N(wait)) // jittered, so that waiters spread out
			select {
			case <-ctx.Done():
				timer.Stop()
				if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					// Cancelled (the client left, or a shutdown): answered
					// like any cancelled request.
					return nil, fmt.Errorf("wait for a sign-in attempt: %w", ctx.Err())
				}
				e := apperr.Limited("too many sign-ins for this email at once, retry shortly", time.Second)
				e.Err = ctx.Err()
				return nil, e
			case <-timer.C:
			}
			free, lockedUntil, err = s.attemptFree(ctx, email)
			if err != nil || !lockedUntil.IsZero() {
				return nil, s.lockedError(lockedUntil, err)
			}
		}
	}
}

// lockedError returns err, or RATE_LIMITED until lockedUntil if it is set.
func (s *Service) lockedError(lockedUntil time.Time, err error) error {
	if err != nil || lockedUntil.IsZero() {
		return err
	}
	return apperr.Limited("too many failed sign-ins for this email, try again later", lockedUntil.Sub(s.now()))
}

// attemptFree reads, without locking anything, whether email has an
// attempt free (tryReserve decides), or the end of its lock.
func (s *Service) attemptFree(ctx context.Context, email string) (free bool, lockedUntil time.Time, err error) {
	now := s.now()
	failures := 0
	l, err := s.client.Lockout.Query().Where(lockout.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return false, time.Time{}, fmt.Errorf("load lockout: %w", err)
	case l.LockedUntil != nil && now.Before(*l.LockedUntil):
		return false, *l.LockedUntil, nil
	case l.LockedUntil == nil: // else the lock is over, and its failures with it
		failures = l.Failures
	}
	inFlight, err := attemptsInFlight(ctx, s.client, email, now)
	if err != nil {
		return false, time.Time{}, err
	}
	return failures+inFlight < lockoutFailures, time.Time{}, nil
}

// tryReserve reserves an attempt for email in one transaction, which first
// locks the email's lockout row (creating it) so that the attempts and
// outcomes of one email take turns on every instance. It returns the
// attempt, or when the email is locked the end of the lock, or neither
// when every attempt is reserved.
func (s *Service) tryReserve(ctx context.Context, email string) (a *attempt, lockedUntil time.Time, err error) {
	now := s.now()
	err = s.withTx(ctx, func(tx *txn) error {
		id, err := tx.Lockout.Create().SetEmail(email).SetUpdatedAt(now).
			OnConflictColumns(lockout.FieldEmail).UpdateUpdatedAt().
			ID(ctx)
		if err != nil {
			return fmt.Errorf("lock lockout row: %w", err)
		}
		l, err := tx.Lockout.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("load lockout: %w", err)
		}
		if l.LockedUntil != nil {
			if now.Before(*l.LockedUntil) {
				lockedUntil = *l.LockedUntil
				return nil
			}
			// The lock is over: a new run of failures starts.
			if l, err = tx.Lockout.UpdateOne(l).SetFailures(0).ClearLockedUntil().Save(ctx); err != nil {
				return fmt.Errorf("end lock: %w", err)
			}
		}
		inFlight, err := attemptsInFlight(ctx, tx.Client(), email, now)
		if err != nil {
			return err
		}
		if l.Failures+inFlight >= lockoutFailures {
			return nil
		}
		at, err := tx.SigninAttempt.Create().SetEmail(email).SetExpiresAt(now.Add(attemptLease)).Save(ctx)
		if err != nil {
			return fmt.Errorf("reserve sign-in attempt: %w", err)
		}
		a = &attempt{id: at.ID, email: email}
		return nil
	})
	return a, lockedUntil, err
}

// settleAttempt stores the outcome of a check of a that did not start a
// session, whose verification returned checkErr (not nil), and releases a,
// on a context that outlives the request's cancellation: a
// checked password counts even if the client left. u is the account
// checked, nil for an unknown email. A mismatch is a failure, audited,
// which locks the email when it is the fifth in a row, and answers the one
// bad-credentials error; any other outcome (a full hashing pool, a
// cancelled or timed-out request, a database error) is no failure and is
// returned as it is. Returns an error if the database fails. (A success
// settles in the session's transaction: see clearFailures.)
func (s *Service) settleAttempt(ctx context.Context, a *attempt, u *ent.User, checkErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if errors.Is(checkErr, auth.ErrMismatch) {
		return s.recordFailure(ctx, a, u)
	}
	if err := releaseAttempt(ctx, s.client, a); err != nil {
		// The attempt lapses by itself; the answer is checkErr's.
		s.log.WarnContext(ctx, "release sign-in attempt", slog.Any("error", err))
	}
	return checkErr
}

// clearFailures settles a successful check of a, in the transaction of
// client that stores its session: it resets the email's failures (unless
// it is locked) and releases a, so that a session is stored if and only if
// a is settled.
func clearFailures(ctx context.Context, client *ent.Client, a *attempt) error {
	if _, err := client.Lockout.Delete().Where(lockout.Email(a.email), lockout.LockedUntilIsNil()).Exec(ctx); err != nil {
		return fmt.Errorf("reset lockout: %w", err)
	}
	return releaseAttempt(ctx, client, a)
}

// recordFailure counts a's failed check of a password and releases a in
// one transaction (see countFailure), audited as signin.failed, and
// returns the bad-credentials error, or an error if the database fails.
func (s *Service) recordFailure(ctx context.Context, a *attempt, u *ent.User) error {
	err := s.withTx(ctx, func(tx *txn) error {
		_, err := s.countFailure(ctx, tx, a, u, "signin.failed", failureDetail(u))
		return err
	})
	if err != nil {
		return err
	}
	return apperr.ErrBadCredentials
}

// countFailure counts a failed check of a (a wrong password, or a wrong
// second-factor code) on its email in tx and releases a, locking the email
// when the failure is the last one allowed. It audits action with detail,
// and signin.locked when the lock starts, in tx, and reports whether it
// started. u is the account, nil for an unknown email.
func (s *Service) countFailure(ctx context.Context, tx *txn, a *attempt, u *ent.User, action, detail string) (bool, error) {
	now := s.now()
	// An upsert: a success of a concurrent check may have deleted the row.
	id, err := tx.Lockout.Create().SetEmail(a.email).SetFailures(1).SetUpdatedAt(now).
		OnConflictColumns(lockout.FieldEmail).AddFailures(1).UpdateUpdatedAt().
		ID(ctx)
	if err != nil {
		return false, fmt.Errorf("count failed check: %w", err)
	}
	l, err := tx.Lockout.Get(ctx, id)
	if err != nil {
		return false, fmt.Errorf("load lockout: %w", err)
	}
	if err := tx.audit(ctx, action, userID(u), detail); err != nil {
		return false, err
	}
	locks := l.Failures >= lockoutFailures && l.LockedUntil == nil
	if locks {
		if err := tx.Lockout.UpdateOne(l).SetLockedUntil(now.Add(lockoutDuration)).Exec(ctx); err != nil {
			return false, fmt.Errorf("lock email after %d failures: %w", l.Failures, err)
		}
		if err := tx.audit(ctx, "signin.locked", userID(u), fmt.Sprintf("%d failed sign-ins or second-factor codes in a row", lockoutFailures)); err != nil {
			return false, err
		}
	}
	return locks, releaseAttempt(ctx, tx.Client(), a)
}

// attemptsInFlight counts the attempts of email reserved and not lapsed at
// now (lapsed ones go with Prune).
func attemptsInFlight(ctx context.Context, client *ent.Client, email string, now time.Time) (int, error) {
	n, err := client.SigninAttempt.Query().
		Where(signinattempt.Email(email), signinattempt.ExpiresAtGT(now)).
		Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count sign-in attempts: %w", err)
	}
	return n, nil
}

// releaseAttempt deletes a's row.
func releaseAttempt(ctx context.Context, client *ent.Client, a *attempt) error {
	if err := client.SigninAttempt.DeleteOneID(a.id).Exec(ctx); err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("release sign-in attempt: %w", err)
	}
	return nil
}

// failureDetail is the detail of a failed sign-in's audit event for the
// account u (nil for an unknown email).
func failureDetail(u *ent.User) string {
	if u == nil {
		return "unknown email"
	}
	return "wrong password"
}

// userID returns u's id, or uuid.Nil for no user.
func userID(u *ent.User) uuid.UUID {
	if u == nil {
		return uuid.Nil
	}
	return u.ID
}
