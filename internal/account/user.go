package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/session"
	"bitgate/ent/user"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
)

var (
	errOwnLevel      = apperr.New(apperr.Forbidden, "nobody may change their own permissionLevel")
	errSetLevel      = apperr.New(apperr.Forbidden, "only an ADMIN may change permissionLevel")
	errDeleteSelf    = apperr.New(apperr.Forbidden, "an ADMIN cannot delete themself")
	errNeedsPassword = apperr.Input("currentPassword", "currentPassword is required to change your email or password")
	errWrongPassword = apperr.New(apperr.Unauthenticated, "currentPassword is wrong")
)

// CreateUser creates a user with any permission level (FREE if none is
// given), with a verified email: the operator vouches for it. The caller
// must be ADMIN; the directive on the field checks it.
// Returns BAD_USER_INPUT, CONFLICT or RATE_LIMITED.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, error) {
	nu, err := s.validateNewUser(ctx, in)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.withTx(ctx, func(tx *txn) error {
		// An operator vouches for the email of a user they make.
		if u, err = nu.create(tx.Client()).SetEmailVerifiedAt(s.now()).Save(ctx); err != nil {
			return userWriteError(err)
		}
		return tx.audit(ctx, "user.created", u.ID, fmt.Sprintf("permission level %d", u.PermissionLevel))
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// newUser is a new user's validated fields, the password already hashed.
type newUser struct {
	first, last, email, hash string
	level                    int
}

// validateNewUser validates a new user's fields and hashes the password
// (outside any transaction: hashing is slow). Returns BAD_USER_INPUT,
// CONFLICT (the email is held in an older form) or RATE_LIMITED.
func (s *Service) validateNewUser(ctx context.Context, in CreateUserInput) (newUser, error) {
	var nu newUser
	var err error
	if nu.first, err = cleanName("firstName", in.FirstName); err != nil {
		return nu, err
	}
	if nu.last, err = cleanName("lastName", in.LastName); err != nil {
		return nu, err
	}
	if nu.email, err = NormalizeEmail(in.Email); err != nil {
		return nu, err
	}
	if err := s.checkOlderForms(ctx, in.Email, nu.email, uuid.Nil); err != nil {
		return nu, err
	}
	nu.level = PermFree
	if in.PermissionLevel != nil {
		nu.level = *in.PermissionLevel
	}
	if err := checkLevel(nu.level); err != nil {
		return nu, err
	}
	if err := checkPassword("password", in.Password); err != nil {
		return nu, err
	}
	nu.hash, err = s.hashPassword(ctx, in.Password)
	return nu, err
}

// create returns the builder that saves nu through client.
func (nu newUser) create(client *ent.Client) *ent.UserCreate {
	return client.User.Create().
		SetFirstName(nu.first).SetLastName(nu.last).SetEmail(nu.email).
		SetPasswordHash(nu.hash).SetPermissionLevel(nu.level)
}

// UpdateUser changes the given fields of user id. The viewer must be that
// user or an ADMIN; only an ADMIN may set permissionLevel, and never their
// own. Changing one's own email or password needs currentPassword. A new
// password ends every other session of the user. A new email takes effect
// at once, unverified (RequestEmailChange is the way that keeps it
// verified). With mail on, the old address is told of a new password or
// email, and a new email gets a verification link.
// Returns FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, UNAUTHENTICATED (wrong
// currentPassword), CONFLICT (email taken) or RATE_LIMITED; on any error
// nothing changes.
func (s *Service) UpdateUser(ctx context.Context, v *Viewer, id uuid.UUID, in UpdateUserInput) (*ent.User, error) {
	self := v.User.ID == id
	switch {
	case !self && !v.IsAdmin():
		return nil, v.notAdmin(apperr.ErrForbidden)
	case in.PermissionLevel != nil && !v.IsAdmin():
		return nil, v.notAdmin(errSetLevel)
	case in.PermissionLevel != nil && self:
		return nil, errOwnLevel
	}
	target, err := s.client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	c, err := userChanges(in)
	if err != nil {
		return nil, err
	}
	if c.Email != nil {
		if err := s.checkOlderForms(ctx, *in.Email, *c.Email, id); err != nil {
			return nil, err
		}
	}
	if self && (in.Email != nil || in.Password != nil) {
		if err := s.checkCurrentPassword(ctx, target, in.CurrentPassword); err != nil {
			return nil, err
		}
	}
	if in.Password != nil {
		hash, err := s.hashPassword(ctx, *in.Password)
		if err != nil {
			return nil, err
		}
		c.PasswordHash = &hash
	}
	keep := uuid.Nil
	if self {
		keep = v.SessionID
	}
	return s.saveUser(ctx, target, c, keep, !self, nil)
}

// saveUser writes validated changes to target in one transaction. A new
// password hash moves the user's credential version on and ends every
// session of the user but keep (none if uuid.Nil). A new email is
// unverified, unless c.Verified. The changes are audited in the same
// transaction, with extra, if not nil, audited after them, and told to
// the user (see tellChanges; byAdmin: an ADMIN set the password). Returns
// CONFLICT for a taken email.
func (s *Service) saveUser(ctx context.Context, target *ent.User, c userFields, keep uuid.UUID, byAdmin bool, extra func(tx *txn, u *ent.User) error) (*ent.User, error) {
	var u *ent.User
	err := s.withTx(ctx, func(tx *txn) error {
		var err error
		update := tx.User.UpdateOne(target).
			SetNillableFirstName(c.FirstName).
			SetNillableLastName(c.LastName).
			SetNillableEmail(c.Email).
			SetNillablePermissionLevel(c.PermissionLevel)
		switch {
		case c.Verified && target.EmailVerifiedAt == nil:
			update.SetEmailVerifiedAt(s.now())
		case !c.Verified && c.Email != nil && *c.Email != target.Email:
			update.ClearEmailVerifiedAt()
		}
		if c.PasswordHash != nil {
			// A new version refuses the sign-ins that verified the old hash
			// but have not stored their session yet (see Signin).
			update.SetPasswordHash(*c.PasswordHash).AddCredentialVersion(1)
		}
		u, err = update.Save(ctx)
		if err != nil {
			return userWriteError(err)
		}
		if c.PasswordHash != nil {
			revoke := tx.Session.Update().Where(session.UserID(target.ID), session.RevokedAtIsNil(), session.IDNEQ(keep))
			if err := revoke.SetRevokedAt(s.now()).Exec(ctx); err != nil {
				return fmt.Errorf("revoke sessions of user %s: %w", target.ID, err)
			}
		}
		if err := auditUpdate(ctx, tx, target, u); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(tx, u); err != nil {
				return err
			}
		}
		return s.tellChanges(ctx, tx, target, u, byAdmin)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// userFields are validated new values of a user; nil means unchanged.
// Verified marks the email verified (an operator vouched for it).
type userFields struct {
	FirstName, LastName, Email, PasswordHash *string
	PermissionLevel                          *int
	Verified                                 bool
}

// userChanges validates the given fields of an update, except the password
// hash, which is only computed once the update is allowed.
func userChanges(in UpdateUserInput) (userFields, error) {
	var c userFields
	var err error
	if c.FirstName, err = optional("firstName", in.FirstName, cleanName); err != nil {
		return c, err
	}
	if c.LastName, err = optional("lastName", in.LastName, cleanName); err != nil {
		return c, err
	}
	if c.Email, err = optional("email", in.Email, emailField); err != nil {
		return c, err
	}
	if in.PermissionLevel != nil {
		if err := checkLevel(*in.PermissionLevel); err != nil {
			return c, err
		}
		c.PermissionLevel = in.PermissionLevel
	}
	if in.Password != nil {
		if err := checkPassword("password", *in.Password); err != nil {
			return c, err
		}
	}
	return c, nil
}

// optional applies check to an optional input field; nil stays nil.
func optional(field string, v *string, check func(field, v string) (string, error)) (*string, error) {
	if v == nil {
		return nil, nil
	}
	out, err := check(field, *v)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkCurrentPassword verifies the currentPassword of a self-update.
// Returns BAD_USER_INPUT when it is missing, UNAUTHENTICATED when wrong.
func (s *Service) checkCurrentPassword(ctx context.Context, u *ent.User, current *string) error {
	if current == nil || *current == "" {
		return errNeedsPassword
	}
	if len(*current) > maxPasswordBytes {
		return errWrongPassword
	}
	_, err := s.hasher.Verify(ctx, u.PasswordHash, *current)
	switch {
	case errors.Is(err, auth.ErrMismatch):
		return errWrongPassword
	case err != nil:
		return hasherError(err)
	}
	return nil
}

// auditUpdate audits the security-relevant parts of a user update in its
// transaction tx.
func auditUpdate(ctx context.Context, tx *txn, before, after *ent.User) error {
	var events []event
	if before.PermissionLevel != after.PermissionLevel {
		events = append(events, event{"user.permission_changed", after.ID,
			fmt.Sprintf("permission level %d -> %d", before.PermissionLevel, after.PermissionLevel)})
	}
	if before.PasswordHash != after.PasswordHash {
		events = append(events, event{"user.password_changed", after.ID, "other sessions revoked"})
	}
	if before.Email != after.Email {
		events = append(events, event{"user.email_changed", after.ID, ""})
	}
	for _, e := range events {
		if err := tx.audit(ctx, e.action, e.userID, e.detail); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser deletes user id with their notes and sessions. The caller must
// be ADMIN (the field's directive checks it) and not the user. Returns
// FORBIDDEN for oneself, NOT_FOUND for a missing user.
func (s *Service) DeleteUser(ctx context.Context, v *Viewer, id uuid.UUID) error {
	if v.User.ID == id {
		return errDeleteSelf
	}
	err := s.withTx(ctx, func(tx *txn) error {
		if err := tx.User.DeleteOneID(id).Exec(ctx); err != nil {
			return err
		}
		return tx.audit(ctx, "user.deleted", id, "")
	})
	if ent.IsNotFound(err) {
		return apperr.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}

// userWriteError maps a failed user write: a unique email is CONFLICT.
func userWriteError(err error) error {
	if ent.IsConstraintError(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: "email already in use", Err: err}
	}
	return fmt.Errorf("save user: %w", err)
}

// UsersByID answers user(id) for each of ids that names a user, with one
// statement at most: the user to themself or an ADMIN, FORBIDDEN to anyone
// else. Ids that name no user are left out. With sessions, the users other
// than the viewer come with their live sessions when the viewer may see
// them (see WithLiveSessions).
func (s *Service) UsersByID(ctx context.Context, v *Viewer, ids []uuid.UUID, sessions bool) (map[uuid.UUID]Lookup[*ent.User], error) {
	found := make(map[uuid.UUID]Lookup[*ent.User], len(ids))
	others := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if id == v.User.ID {
			found[id] = Lookup[*ent.User]{Value: v.User}
		} else {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return found, nil
	}
	q := s.client.User.Query().Where(user.IDIn(others...))
	if !v.IsAdmin() {
		known, err := q.IDs(ctx)
		for _, id := range known {
			found[id] = Lookup[*ent.User]{Err: v.notAdmin(apperr.ErrForbidden)}
		}
		return found, wrapErr(err, "look up users")
	}
	if sessions {
		q = s.WithLiveSessions(v, q)
	}
	users, err := q.All(ctx)
	for _, u := range users {
		found[u.ID] = Lookup[*ent.User]{Value: u}
	}
	return found, wrapErr(err, "load users")
}

// wrapErr wraps err with what was being done; nil stays nil.
func wrapErr(err error, doing string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}

// User returns user id as the viewer may see them: themself, or anyone for
// an ADMIN. Returns FORBIDDEN for anyone else, whether or not the id exists,
// and nil without an error when an ADMIN asks for a missing id.
func (s *Service) User(ctx context.Context, v *Viewer, id uuid.UUID) (*ent.User, error) {
	switch {
	case v.User.ID == id:
		return v.User, nil
	case !v.IsAdmin():
		return nil, v.notAdmin(apperr.ErrForbidden)
	}
	u, err := s.client.User.Get(ctx, id)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}
