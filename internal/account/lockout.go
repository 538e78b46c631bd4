package account

import (
	"context"
	"fmt"
	"math"
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

// checkLockout returns RATE_LIMITED, with the seconds left, while email is
// locked.
func (s *Service) checkLockout(ctx context.Context, email string) error {
	l, err := s.client.Lockout.Query().Where(lockout.Email(email)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("load lockout: %w", err)
	}
	if l.LockedUntil == nil {
		return nil
	}
	left := l.LockedUntil.Sub(s.now())
	if left <= 0 {
		return nil
	}
	return apperr.Limited("too many failed sign-ins for this email, try again later", int(math.Ceil(left.Seconds())))
}

// recordFailure counts a failed sign-in for email, atomically across
// instances (an upsert that increments), and locks the email at the
// fifth failure in a row. It reports whether this failure locked it.
func (s *Service) recordFailure(ctx context.Context, email string) (locked bool, err error) {
	now := s.now()
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		id, err := tx.Lockout.Create().SetEmail(email).SetFailures(1).
			OnConflictColumns(lockout.FieldEmail).AddFailures(1).UpdateUpdatedAt().
			ID(ctx)
		if err != nil {
			return fmt.Errorf("count failed sign-in: %w", err)
		}
		l, err := tx.Lockout.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("load lockout: %w", err)
		}
		switch {
		case l.LockedUntil != nil && !now.Before(*l.LockedUntil):
			// The last lock is over: this failure starts a new run.
			return tx.Lockout.UpdateOne(l).SetFailures(1).ClearLockedUntil().Exec(ctx)
		case l.LockedUntil == nil && l.Failures >= lockoutFailures:
			locked = true
			return tx.Lockout.UpdateOne(l).SetLockedUntil(now.Add(lockoutDuration)).Exec(ctx)
		}
		return nil
	})
	return locked, err
}

// clearLockout resets email's count after a successful sign-in.
func (s *Service) clearLockout(ctx context.Context, email string) error {
	if _, err := s.client.Lockout.Delete().Where(lockout.Email(email)).Exec(ctx); err != nil {
		return fmt.Errorf("reset lockout: %w", err)
	}
	return nil
}
