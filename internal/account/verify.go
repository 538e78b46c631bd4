package account

import (
	"cmp"
	"context"

	"bitgate/ent"
	"bitgate/ent/emailtoken"
	"bitgate/ent/user"
)

// RequestEmailVerification mails the viewer a link that verifies their
// email (PUBLIC_URL/verify-email, working once for 24 hours), replacing
// any earlier one, unless their email is verified already: then nothing
// is sent. A request within the per-address mail limits of the last mail
// of its kind to the address answers alike and sends nothing (see
// mail.Mailer.Allow). Audited as email.verification_requested. Returns
// RATE_LIMITED past the client address's limit, or FORBIDDEN
// (MAIL_DISABLED) when the server sends no mail.
func (s *Service) RequestEmailVerification(ctx context.Context, v *Viewer) error {
	if err := s.allow(ctx, "email verification"); err != nil {
		return err
	}
	u := v.User
	switch {
	case u.EmailVerifiedAt != nil:
		return nil
	case !s.mailOn():
		return errMailDisabled
	}
	return s.withTx(ctx, func(tx *txn) error {
		return s.mailLinkUnlessLimited(ctx, tx, u, emailtoken.KindVerifyEmail, "", "email.verification_requested")
	})
}

// mailLinkUnlessLimited mails u a link of kind in tx (see sendLink), to
// u's email or to newEmail for an email change, unless the per-address
// limits hold it back, and audits action either way.
func (s *Service) mailLinkUnlessLimited(ctx context.Context, tx *txn, u *ent.User, kind emailtoken.Kind, newEmail, action string) error {
	to := cmp.Or(newEmail, u.Email)
	ok, err := s.mayMail(ctx, tx, u, to, kind)
	if err != nil {
		return err
	}
	if !ok {
		return tx.audit(ctx, action, u.ID, "no mail: the address had one of this kind lately (MAIL_INTERVAL, MAIL_PER_HOUR)")
	}
	if err := s.sendLink(ctx, tx, u, kind, newEmail); err != nil {
		return err
	}
	return tx.audit(ctx, action, u.ID, "link mailed")
}

// VerifyEmail marks verified the email that token, from a verification
// link, was mailed to, and spends the token; it answers the user. Audited
// as email.verified. Returns BAD_USER_INPUT (field token) for any refused
// token, or RATE_LIMITED past the client address's limit.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*ent.User, error) {
	if err := s.allow(ctx, "email verification"); err != nil {
		return nil, err
	}
	t, err := s.findToken(ctx, token, emailtoken.KindVerifyEmail)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.withTx(ctx, func(tx *txn) error {
		if err := spendToken(ctx, tx, t); err != nil {
			return err
		}
		if u, err = saveBound(ctx, s.verifyBound(tx, t, t.Email)); err != nil {
			return err
		}
		return tx.audit(ctx, "email.verified", u.ID, "")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// verifyBound returns the update that sets the email of t's user to
// email, verified (keeping the time of an earlier verification of that
// address), and that applies only while the user's email and credential
// version are still those t was issued with (see saveBound).
func (s *Service) verifyBound(tx *txn, t *ent.EmailToken, email string) *ent.UserUpdateOne {
	verified := s.now()
	if old := t.Edges.User; old.EmailVerifiedAt != nil && old.Email == email {
		verified = *old.EmailVerifiedAt
	}
	return tx.User.UpdateOneID(t.UserID).
		Where(user.Email(t.Email), user.CredentialVersion(t.CredentialVersion)).
		SetEmail(email).SetEmailVerifiedAt(verified)
}

// saveBound saves an update made by verifyBound. Returns errBadToken when
// the user's email or credential version moved since the token was
// issued (or the user is gone), CONFLICT when the email is another user's.
func saveBound(ctx context.Context, update *ent.UserUpdateOne) (*ent.User, error) {
	u, err := update.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, errBadToken
	} else if err != nil {
		return nil, userWriteError(err)
	}
	return u, nil
}
