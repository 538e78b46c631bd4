package account

import (
	"context"
	"fmt"
	"time"

	"bitgate/ent"
	"bitgate/ent/lockout"
	"bitgate/internal/apperr"
)

// The contract's lockout: 5 failed sign-ins in a row for one email lock it
// for 15 minutes, whatever the password.
const (
	lockoutFailures = 5
	lockoutDuration = 15 * time.Minute
)

// attempt is a sign-in counted against an email before its password is
// checked, so that concurrent guesses cannot all slip in before the first
// failure is recorded.
type attempt struct {
	email string
	n     int // this attempt's place in the run of failures, from 1
}

// countAttempt counts a sign-in for email, atomically across instances (an
// upsert that increments). Returns RATE_LIMITED, with the seconds left,
// while the email is locked, and locks it at once when more attempts are
// under way than failures remain.
func (s *Service) countAttempt(ctx context.Context, email string) (*attempt, error) {
	now := s.now()
	a := &attempt{email: email}
	var lockedUntil time.Time
	err := s.withTx(ctx, func(tx *ent.Tx) error {
		id, err := tx.Lockout.Create().SetEmail(email).SetFailures(1).
			OnConflictColumns(lockout.FieldEmail).AddFailures(1).UpdateUpdatedAt().
			ID(ctx)
		if err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		l, err := tx.Lockout.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("load lockout: %w", err)
		}
		switch {
		case l.LockedUntil != nil && now.Before(*l.LockedUntil):
			lockedUntil = *l.LockedUntil
			return nil
		case l.LockedUntil != nil:
			// The last lock is over: this attempt starts a new run.
			a.n = 1
			return tx.Lockout.UpdateOne(l).SetFailures(1).ClearLockedUntil().Exec(ctx)
		case l.Failures > lockoutFailures:
			lockedUntil = now.Add(lockoutDuration)
			return tx.Lockout.UpdateOne(l).SetLockedUntil(lockedUntil).Exec(ctx)
		}
		a.n = l.Failures
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !lockedUntil.IsZero() {
		return nil, apperr.Limited("too many failed sign-ins for this email, try again later", lockedUntil.Sub(now))
	}
	return a, nil
}

// lockIfLastAttempt keeps a failed attempt in the count and locks the email
// when it was the last one allowed. Reports whether it locked.
func (s *Service) lockIfLastAttempt(ctx context.Context, a *attempt) (locked bool, err error) {
	if a.n < lockoutFailures {
		return false, nil
	}
	err = s.client.Lockout.Update().
		Where(lockout.Email(a.email), lockout.LockedUntilIsNil()).
		SetLockedUntil(s.now().Add(lockoutDuration)).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lock email after %d failures: %w", a.n, err)
	}
	return true, nil
}

// uncountAttempt takes back an attempt whose password was never checked
// (the hashing pool was full, say).
func (s *Service) uncountAttempt(ctx context.Context, a *attempt) error {
	if err := s.client.Lockout.Update().Where(lockout.Email(a.email)).AddFailures(-1).Exec(ctx); err != nil {
		return fmt.Errorf("uncount sign-in attempt: %w", err)
	}
	return nil
}

// clearFailures resets the email's count after a successful sign-in.
func (s *Service) clearFailures(ctx context.Context, a *attempt) error {
	if _, err := s.client.Lockout.Delete().Where(lockout.Email(a.email)).Exec(ctx); err != nil {
		return fmt.Errorf("reset lockout: %w", err)
	}
	return nil
}
