package account

import (
	"context"
	"errors"

	"bitgate/ent"
	"bitgate/ent/emailtoken"
	"bitgate/internal/apperr"
	"bitgate/internal/mail"
)

var errSameEmail = apperr.Input("newEmail", "newEmail is the account's email already")

// RequestEmailChange starts a change of the viewer's email to newEmail:
// it mails newEmail a confirmation link (PUBLIC_URL/confirm-email-change,
// working once for an hour), replacing any earlier one, and the current
// address a notice; nothing changes until the link is used (see
// ConfirmEmailChange). A request within the per-address mail limits of the
// last confirmation mailed to newEmail answers alike and sends nothing, and
// so does one for an address another account has. Audited as
// email.change_requested. Returns BAD_USER_INPUT (field newEmail) for a
// malformed email or the current one, BAD_USER_INPUT (field
// currentPassword) when it is empty, UNAUTHENTICATED when it is wrong,
// RATE_LIMITED past the client address's limit or when hashing is
// saturated, or FORBIDDEN (MAIL_DISABLED) when the server sends no mail.
func (s *Service) RequestEmailChange(ctx context.Context, v *Viewer, newEmail, currentPassword string) error {
	if err := s.allow(ctx, "email change"); err != nil {
		return err
	}
	normal, err := NormalizeEmail(newEmail)
	var bad *apperr.Error
	switch {
	case errors.As(err, &bad):
		return apperr.Input("newEmail", "newEmail: "+bad.Message)
	case err != nil:
		return err
	case normal == v.User.Email:
		return errSameEmail
	case !s.mailOn():
		return errMailDisabled
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return err
	}
	taken, err := s.userByEmail(ctx, newEmail, normal)
	if err != nil {
		return err
	}
	return s.withTx(ctx, func(tx *txn) error {
		if taken != nil {
			// Answered as if mailed, so that the answer does not tell
			// whose address it is; confirmEmailChange could not succeed.
			return tx.audit(ctx, "email.change_requested", v.User.ID, "no mail: the new address belongs to another account")
		}
		if err := s.mailLinkUnlessLimited(ctx, tx, v.User, emailtoken.KindChangeEmail, normal, "email.change_requested"); err != nil {
			return err
		}
		return s.notify(ctx, tx, mail.EmailChanged{To: v.User.Email, NewEmail: normal})
	})
}

// ConfirmEmailChange changes the email of the account whose confirmation
// link carried token to the address it was mailed to, verified, spends the
// token and mails the old address a notice, in one transaction; it
// answers the user. Audited as user.email_changed. Returns BAD_USER_INPUT
// (field token) for any refused token (the old address is no longer the
// account's, or the password changed, since the link was mailed),
// CONFLICT when another account took the address meanwhile (the token
// stays good), or RATE_LIMITED past the client address's limit.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*ent.User, error) {
	if err := s.allow(ctx, "email change"); err != nil {
		return nil, err
	}
	t, err := s.findToken(ctx, token, emailtoken.KindChangeEmail)
	if err != nil {
		return nil, err
	}
	if err := s.checkOlderForms(ctx, t.NewEmail, t.NewEmail, t.UserID); err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.withTx(ctx, func(tx *txn) error {
		if err := spendToken(ctx, tx, t); err != nil {
			return err
		}
		if u, err = saveBound(ctx, s.verifyBound(tx, t, t.NewEmail)); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, mail.EmailChanged{To: t.Email, NewEmail: u.Email}); err != nil {
			return err
		}
		return tx.audit(ctx, "user.email_changed", u.ID, "confirmed by the link mailed to the new address")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
