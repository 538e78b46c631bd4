package account

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/internal/apperr"
)

// ErrUserExists is EnsureAdmin's refusal to touch an existing account it
// was not asked to promote.
var ErrUserExists = apperr.New(apperr.Conflict, "a user with this email exists already")

// EnsureAdmin creates an ADMIN from in. An email that belongs to a user
// already is refused with ErrUserExists unless promote is set: anyone may
// have signed up with it first. With promote, that user gets the ADMIN bit
// and in.Password, which ends every session of theirs, so that nobody who
// knew the old password keeps a way in; this is audited as user.promoted.
// Either way the email is verified: the operator vouches for it.
// A password is required either way. Reports whether it created the user.
// Returns BAD_USER_INPUT for invalid fields, CONFLICT, or RATE_LIMITED.
func (s *Service) EnsureAdmin(ctx context.Context, in CreateUserInput, promote bool) (*ent.User, bool, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, false, err
	}
	existing, err := s.userByEmail(ctx, in.Email, email)
	if err != nil {
		return nil, false, err
	}
	if existing == nil {
		level := PermFree | PermAdmin
		in.PermissionLevel = &level
		u, err := s.CreateUser(ctx, in)
		return u, err == nil, err
	}
	if !promote {
		return nil, false, ErrUserExists
	}
	if err := checkPassword("password", in.Password); err != nil {
		return nil, false, err
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, false, err
	}
	level := existing.PermissionLevel | PermAdmin
	u, err := s.saveUser(ctx, existing, userFields{PermissionLevel: &level, PasswordHash: &hash, Verified: true}, uuid.Nil, true,
		func(tx *txn, u *ent.User) error {
			return tx.audit(ctx, "user.promoted", u.ID, fmt.Sprintf("existing account made ADMIN by create-admin (permission level %d -> %d); password replaced, all sessions ended", existing.PermissionLevel, u.PermissionLevel))
		})
	if err != nil {
		return nil, false, err
	}
	return u, false, nil
}
