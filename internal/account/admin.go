package account

import (
	"context"

	"github.com/google/uuid"

	"bitgate/ent"
)

// EnsureAdmin creates an ADMIN from in, or, if in.Email is taken, adds the
// ADMIN bit to that user and sets their password when one is given (which
// ends their sessions).
// Reports whether it created the user. Returns BAD_USER_INPUT for invalid
// fields (a password is required for a new user).
func (s *Service) EnsureAdmin(ctx context.Context, in CreateUserInput) (*ent.User, bool, error) {
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
	level := existing.PermissionLevel | PermAdmin
	c := userFields{PermissionLevel: &level}
	if in.Password != "" {
		if err := checkPassword("password", in.Password); err != nil {
			return nil, false, err
		}
		hash, err := s.hashPassword(ctx, in.Password)
		if err != nil {
			return nil, false, err
		}
		c.PasswordHash = &hash
	}
	u, err := s.saveUser(ctx, existing, c, uuid.Nil)
	return u, false, err
}
