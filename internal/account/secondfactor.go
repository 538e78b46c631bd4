package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/passkey"
	"bitgate/ent/recoverycode"
	"bitgate/ent/session"
	"bitgate/ent/totp"
	"bitgate/ent/user"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
	"bitgate/internal/mail"
	totpcode "bitgate/internal/totp"
)

// maxCodeFailures is how many wrong second-factor codes one session may
// send: the last of them ends it.
const maxCodeFailures = 5

// Factor names, as audit events, mail and the API give them.
const (
	factorTOTP     = "TOTP"
	factorRecovery = "recovery code"
	factorPasskey  = "passkey"
)

var (
	errCodeRequired  = apperr.Input("code", "code is required")
	errWrongCode     = apperr.Input("code", "wrong code, or one used already: each code works once, so wait for the next")
	errEndedByCodes  = apperr.New(apperr.Unauthenticated, "too many wrong codes: this session has ended, sign in again")
	errSessionGone   = apperr.New(apperr.Unauthenticated, "this session has ended, sign in again")
	errRotated       = apperr.New(apperr.Unauthenticated, "a refresh of this session answered meanwhile: use its pair and try again")
	errNoTOTP        = apperr.New(apperr.NotFound, "TOTP is not set up for this account")
	errTOTPOff       = apperr.New(apperr.Forbidden, "TOTP is off on this server (it needs TOTP_ENCRYPTION_KEY)")
	errPasskeysOff   = apperr.New(apperr.Forbidden, "passkeys are off on this server (they need WEBAUTHN_RP_ID or PUBLIC_URL)")
	errFactorsOfSelf = apperr.New(apperr.Forbidden, "remove your own second factors with disableTotp and removePasskey")
)

// VerifySecondFactor passes the second factor of the viewer's session
// with code: a current TOTP code, or one of the user's recovery codes
// (which it spends). The session then no longer waits for one
// (mfaRequired is false) and answers a new token pair: its refresh token
// rotates as in Refresh (the old one is spent), and the new access token
// carries the user's permissions. Any session of a user with a second
// factor may call it, one that passed already too. Returns BAD_USER_INPUT
// (field code) for a missing or wrong code; UNAUTHENTICATED once the
// fifth wrong code of the session has ended it; RATE_LIMITED while the
// email is locked (wrong codes count toward the lockout, see checkCode)
// or the client address is over its limit.
func (s *Service) VerifySecondFactor(ctx context.Context, v *Viewer, code string) (*Payload, error) {
	if err := s.allow(ctx, "verifySecondFactor"); err != nil {
		return nil, err
	}
	var p *Payload
	err := s.checkCode(ctx, v, code, func(tx *txn, factor string) error {
		var err error
		p, err = s.passSecondFactor(ctx, tx, v, factor)
		return err
	})
	return p, err
}

// MFAEnabled returns whether user u has a second factor
// (users.mfa_enabled), for the viewer: themself, even while their session
// waits for it (mfaRequired told them as much), or an ADMIN. Returns
// MFA_REQUIRED to a waiting session asking about anyone else, and
// FORBIDDEN to anyone else: it tells which accounts a password opens
// alone.
func (s *Service) MFAEnabled(v *Viewer, u *ent.User) (bool, error) {
	switch {
	case u.ID == v.User.ID:
	case v.MFARequired:
		return false, apperr.ErrMFARequired
	case !v.IsAdmin():
		return false, v.notAdmin(apperr.ErrForbidden)
	}
	return u.MfaEnabled, nil
}

// checkCode checks code, a TOTP code or a recovery code of the viewer's
// user (see spendCode), guarded as a password is: it first reserves an
// attempt on the email's lockout (reserveAttempt), so that wrong codes and
// wrong passwords count together, in every session on every instance, no
// more codes are checked at once than failures remain before the lock,
// and none while the email is locked. A good code is spent in one
// transaction with then(tx, factor), which locks the user row first (see
// lockUserRow: then may change the factors) and resets the email's count
// (clearFailures); a wrong one is counted on the email and on the session
// (see wrongCode). The check and its outcome are stored on a context the
// client cannot cancel. Returns BAD_USER_INPUT for a missing or wrong
// code, UNAUTHENTICATED when the wrong code ended the session, or
// RATE_LIMITED (see reserveAttempt).
func (s *Service) checkCode(ctx context.Context, v *Viewer, code string, then func(tx *txn, factor string) error) error {
	code = strings.Join(strings.Fields(code), "") // "123 456" as apps show it
	if code == "" {
		return errCodeRequired
	}
	email, err := NormalizeEmail(v.User.Email)
	if err != nil {
		email = v.User.Email // stored before normalisation, and refused by it now
	}
	reserveCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	a, err := s.reserveAttempt(reserveCtx, email)
	if err != nil {
		return err
	}
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var answer error
	err = s.withTx(ctx, func(tx *txn) error {
		if err := tx.lockUserRow(ctx, v.User.ID); err != nil {
			return err
		}
		factor, err := s.spendCode(ctx, tx, v.User, code)
		switch {
		case err != nil:
			return err
		case factor == "":
			answer, err = s.wrongCode(ctx, tx, a, v)
			return err
		}
		if err := then(tx, factor); err != nil {
			return err
		}
		return clearFailures(ctx, tx.Client(), a)
	})
	if err != nil {
		if rerr := releaseAttempt(ctx, s.client, a); rerr != nil {
			err = errors.Join(err, rerr) // the attempt lapses by itself
		}
		return err
	}
	return answer
}

// spendCode spends code if it is a good second-factor code of u, in tx:
// 6 digits are a TOTP code, good if it is for a time step within one of
// now's and later than the last one accepted, which becomes its step;
// anything else is a recovery code, good if it is one of u's, which is
// deleted. Both are conditional writes, so that of two requests with one
// code, one wins. It returns the factor (factorTOTP or factorRecovery),
// or "" for a wrong code.
func (s *Service) spendCode(ctx context.Context, tx *txn, u *ent.User, code string) (string, error) {
	if !totpcode.WellFormed(code) {
		n, err := tx.RecoveryCode.Delete().
			Where(recoverycode.UserID(u.ID), recoverycode.Hash(recoveryHash(u.ID, code))).
			Exec(ctx)
		if err != nil || n == 0 {
			return "", wrapErr(err, "spend recovery code of user "+u.ID.String())
		}
		return factorRecovery, nil
	}
	t, err := tx.Totp.Query().Where(totp.UserID(u.ID), totp.ConfirmedAtNotNil()).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("load TOTP of user %s: %w", u.ID, err)
	}
	step, ok, err := s.matchTOTP(t, code)
	if err != nil || !ok {
		return "", err
	}
	n, err := tx.Totp.Update().Where(totp.ID(t.ID), totp.LastStepLT(step)).SetLastStep(step).Save(ctx)
	if err != nil || n == 0 {
		return "", wrapErr(err, "spend TOTP code of user "+u.ID.String())
	}
	return factorTOTP, nil
}

// wrongCode counts a wrong code of the viewer in tx: on the email's
// lockout, as a failed sign-in (see countFailure, which releases a), and
// on the session, which the maxCodeFailures-th wrong code ends. A wrong
// code that ends the session or locks the email mails the user a notice
// (whoever sent it had the password). It returns the answer:
// BAD_USER_INPUT, or UNAUTHENTICATED when the session ended.
func (s *Service) wrongCode(ctx context.Context, tx *txn, a *attempt, v *Viewer) (error, error) {
	detail := "wrong code in session " + v.SessionID.String()
	locked, err := s.countFailure(ctx, tx, a, v.User, "mfa.failed", detail)
	if err != nil {
		return nil, err
	}
	sess, err := tx.Session.UpdateOneID(v.SessionID).AddMfaFailures(1).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("count wrong code of session %s: %w", v.SessionID, err)
	}
	answer, ended := errWrongCode, sess.MfaFailures >= maxCodeFailures
	if ended {
		if err := tx.Session.UpdateOne(sess).SetRevokedAt(s.now()).Exec(ctx); err != nil {
			return nil, fmt.Errorf("end session %s after wrong codes: %w", sess.ID, err)
		}
		if err := tx.audit(ctx, "mfa.session_ended", v.User.ID, fmt.Sprintf("session %s ended after %d wrong codes", sess.ID, sess.MfaFailures)); err != nil {
			return nil, err
		}
		answer = errEndedByCodes
	}
	if !locked && !ended {
		return answer, nil
	}
	notice := mail.WrongCodes{To: v.User.Email, SessionEnded: ended}
	if locked {
		notice.LockedFor = lockoutDuration
	}
	return answer, s.notify(ctx, tx, notice)
}

// passSecondFactor marks the viewer's session as having passed its second
// factor (factor, for the audit event), in tx, and issues its new pair:
// the refresh token rotates (the old one is recorded as spent, so that
// presenting it later is reuse, as after Refresh), if it is still the one
// read here. Returns UNAUTHENTICATED if the session ended or its refresh
// token rotated meanwhile.
func (s *Service) passSecondFactor(ctx context.Context, tx *txn, v *Viewer, factor string) (*Payload, error) {
	now := s.now()
	old, err := tx.Session.Query().Where(session.ID(v.SessionID), session.RevokedAtIsNil(), session.ExpiresAtGT(now)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, errSessionGone
	case err != nil:
		return nil, fmt.Errorf("load session %s: %w", v.SessionID, err)
	}
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, fmt.Errorf("new refresh token: %w", err)
	}
	sess, err := tx.Session.UpdateOne(old).Where(session.RefreshHash(old.RefreshHash)).
		SetRefreshHash(hash).SetLastUsedAt(now).
		SetMfaRequired(false).SetMfaPassedAt(now).SetMfaFailures(0).
		Save(ctx)
	switch {
	case ent.IsNotFound(err): // as Refresh refuses a token rotated meanwhile
		return nil, errRotated
	case err != nil:
		return nil, fmt.Errorf("pass second factor of session %s: %w", old.ID, err)
	}
	if err := tx.SpentToken.Create().SetHash(old.RefreshHash).SetSessionID(old.ID).SetSpentAt(now).Exec(ctx); err != nil {
		return nil, fmt.Errorf("spend refresh token of session %s: %w", old.ID, err)
	}
	if err := tx.audit(ctx, "mfa.verified", v.User.ID, factor+" in session "+old.ID.String()); err != nil {
		return nil, err
	}
	if factor == factorRecovery {
		left, err := tx.RecoveryCode.Query().Where(recoverycode.UserID(v.User.ID)).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("count recovery codes of user %s: %w", v.User.ID, err)
		}
		if err := tx.audit(ctx, "mfa.recovery_code_used", v.User.ID, fmt.Sprintf("%d left", left)); err != nil {
			return nil, err
		}
	}
	return s.payload(ctx, v.User, sess, token)
}

// passedNow records in tx that the viewer's session passed a second
// factor now: one it has just set up (confirmTotp, a new passkey) proves
// it holds it.
func (s *Service) passedNow(ctx context.Context, tx *txn, v *Viewer) error {
	err := tx.Session.UpdateOneID(v.SessionID).SetMfaPassedAt(s.now()).SetMfaFailures(0).Exec(ctx)
	return wrapErr(err, "record second factor of session "+v.SessionID.String())
}

// syncFactors sets, in tx, whether user u has a second factor (a confirmed
// TOTP secret or a passkey): users.mfa_enabled, which decides the factor
// of their next sessions (see startSession). tx must have locked u's row
// before it changed any factor (lockUserRow), so that what it reads here
// holds what every other change committed. While u has one, u's live
// sessions that never passed one (opened before the first factor) wait
// for it, as new sign-ins do: a caller that set a factor up records first
// that its session passed it (passedNow). When u has none left, the
// sessions still waiting for one end: nothing can pass them now.
func (s *Service) syncFactors(ctx context.Context, tx *txn, u uuid.UUID) error {
	hasTOTP, err := tx.Totp.Query().Where(totp.UserID(u), totp.ConfirmedAtNotNil()).Exist(ctx)
	if err != nil {
		return fmt.Errorf("look up TOTP of user %s: %w", u, err)
	}
	has := hasTOTP
	if !has {
		if has, err = tx.Passkey.Query().Where(passkey.UserID(u)).Exist(ctx); err != nil {
			return fmt.Errorf("look up passkeys of user %s: %w", u, err)
		}
	}
	if err := tx.User.Update().Where(user.ID(u)).SetMfaEnabled(has).Exec(ctx); err != nil {
		return fmt.Errorf("set mfa_enabled of user %s: %w", u, err)
	}
	live := tx.Session.Update().Where(session.UserID(u), session.RevokedAtIsNil())
	if has {
		err = live.Where(session.MfaRequired(false), session.MfaPassedAtIsNil()).SetMfaRequired(true).Exec(ctx)
	} else {
		err = live.Where(session.MfaRequired(true)).SetRevokedAt(s.now()).Exec(ctx)
	}
	return wrapErr(err, "set the second factor of the sessions of user "+u.String())
}
