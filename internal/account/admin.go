package account

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/user"
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
	existing, err := s.client.User.Query().Where(user.Email(email)).Only(ctx)
	if ent.IsNotFound(err) {
		level := PermFree | PermAdmin
		in.PermissionLevel = &level
		u, err := s.CreateUser(ctx, in)
		return u, err == nil, err
	} else if err != nil {
		return nil, false, fmt.Errorf("load user %s: %w", email, err)
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
