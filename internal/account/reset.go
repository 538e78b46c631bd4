package account

import (
	"context"
	"fmt"

	"bitgate/ent/emailtoken"
	"bitgate/ent/lockout"
	"bitgate/ent/session"
	"bitgate/internal/mail"
	"bitgate/internal/mailaddr"
)

// RequestPasswordReset mails a password reset link (PUBLIC_URL/
// reset-password, working once for an hour) to the account of email, if
// there is one, replacing any earlier one. Its answer is the same for
// every well-formed email, known or not, and so is its time: it looks the
// email up (the same statement either way), and leaves all the rest (the
// per-address mail limits, the token, the mail, the audit event
// password.reset_requested) to run after the answer (see afterAnswer), so
// that the answer waits for nothing only a known email does. A crash in
// the moment between the answer and that work's commit loses the request
// (no mail; the user asks again); once committed, the mail is never lost.
// Returns BAD_USER_INPUT (field email) for a malformed email, RATE_LIMITED
// past the client address's limit or when such work stayed at its bound
// for as long as ctx lets the request wait, FORBIDDEN (MAIL_DISABLED)
// when the server sends no mail, or an error if the lookup fails.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	if err := s.allow(ctx, "password reset"); err != nil {
		return err
	}
	normal, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if !s.mailOn() {
		return errMailDisabled
	}
	u, err := s.userByEmail(ctx, email, normal)
	if err != nil {
		return err
	}
	return s.afterAnswer(ctx, "mail a password reset link", func(ctx context.Context) error {
		if u == nil {
			s.audit(ctx, "password.reset_requested", userID(nil), "unknown email: no mail")
			return nil
		}
		return s.withTx(ctx, func(tx *txn) error {
			return s.mailLinkUnlessLimited(ctx, tx, u, emailtoken.KindResetPassword, "", "password.reset_requested")
		})
	})
}

// ResetPassword sets newPassword (the rules and hashing of every
// password) on the account whose reset link carried token, and spends the
// token, in one transaction that also moves the credential version on (so
// that sign-ins racing it lose, and every other link mailed before ends),
// ends every session of the user, clears the lockout of their email,
// marks the email verified (the link reached it), queues a notice to it,
// audits password.reset and starts a new session, whose pair it answers
// (see startSession: one that waits for the second factor of a user who
// has one). Returns BAD_USER_INPUT (field token) for
// any refused token, BAD_USER_INPUT (field newPassword) for a password the
// rules refuse, or RATE_LIMITED past the client address's limit or when
// hashing is saturated.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) (*Payload, error) {
	if err := s.allow(ctx, "password reset"); err != nil {
		return nil, err
	}
	t, err := s.findToken(ctx, token, emailtoken.KindResetPassword)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("newPassword", newPassword); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	var p *Payload
	err = s.withTx(ctx, func(tx *txn) error {
		if err := spendToken(ctx, tx, t); err != nil {
			return err
		}
		u, err := saveBound(ctx, s.verifyBound(tx, t, t.Email).SetPasswordHash(hash).AddCredentialVersion(1))
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.Session.Update().Where(session.UserID(u.ID), session.RevokedAtIsNil()).SetRevokedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("end sessions of user %s: %w", u.ID, err)
		}
		if _, err := tx.Lockout.Delete().Where(lockout.EmailIn(lockoutKeys(u.Email)...)).Exec(ctx); err != nil {
			return fmt.Errorf("clear lockout of user %s: %w", u.ID, err)
		}
		if p, err = s.startSession(ctx, tx, u, byPassword); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, mail.PasswordChanged{To: u.Email}); err != nil {
			return err
		}
		return tx.audit(ctx, "password.reset", u.ID, "every other session ended; session "+p.SessionID.String())
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// lockoutKeys returns the keys of the lockout rows of the account stored
// with email: sign-in counts failures under the normal form of what was
// typed, which for an account older than normalisation may differ from
// its stored form (see storedForms).
func lockoutKeys(email string) []string {
	keys := []string{email}
	if n, err := mailaddr.Normalize(email); err == nil && n != email {
		keys = append(keys, n)
	}
	return keys
}
