package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/recoverycode"
	"bitgate/ent/totp"
	"bitgate/internal/apperr"
	"bitgate/internal/mail"
	totpcode "bitgate/internal/totp"
)

// recoveryCodes is how many recovery codes a user gets at a time.
const recoveryCodes = 10

var errTOTPOn = apperr.New(apperr.Conflict, "TOTP is set up already: disableTotp first to replace it")

// TotpEnrollment is a new TOTP secret, not active until confirmed.
type TotpEnrollment struct {
	// Secret is the secret in base32, for apps that cannot scan.
	Secret string
	// URI is its otpauth://totp/ URI.
	URI string
	// QRCodeSVG is URI as a QR code: an SVG document to show as it is.
	QRCodeSVG string
}

// EnrollTotp makes a new TOTP secret for the viewer, stored sealed and
// inactive until ConfirmTotp; it replaces a secret enrolled and not
// confirmed. Returns BAD_USER_INPUT (field currentPassword) without
// currentPassword, UNAUTHENTICATED for a wrong one, CONFLICT when TOTP is
// on already, FORBIDDEN when TOTP is off on this server, RATE_LIMITED.
func (s *Service) EnrollTotp(ctx context.Context, v *Viewer, currentPassword string) (*TotpEnrollment, error) {
	if err := s.allow(ctx, "enrollTotp"); err != nil {
		return nil, err
	}
	if s.opts.TOTPSecrets == nil {
		return nil, errTOTPOff
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return nil, err
	}
	key, err := totpcode.Generate(s.opts.TOTPIssuer, v.User.Email)
	if err != nil {
		return nil, err
	}
	svg, err := totpcode.QRCodeSVG(key.URI)
	if err != nil {
		return nil, err
	}
	sealed, err := s.opts.TOTPSecrets.Seal(v.User.ID.String(), []byte(key.Secret))
	if err != nil {
		return nil, err
	}
	err = s.withTx(ctx, func(tx *txn) error {
		on, err := tx.lockTOTPOn(ctx, v.User.ID)
		switch {
		case err != nil:
			return err
		case on:
			return errTOTPOn
		}
		if _, err := tx.Totp.Delete().Where(totp.UserID(v.User.ID), totp.ConfirmedAtIsNil()).Exec(ctx); err != nil {
			return fmt.Errorf("drop enrolled TOTP of user %s: %w", v.User.ID, err)
		}
		err = tx.Totp.Create().SetUserID(v.User.ID).SetSecret(sealed).SetCreatedAt(s.now()).Exec(ctx)
		if ent.IsConstraintError(err) {
			return errTOTPOn // confirmed meanwhile
		}
		return wrapErr(err, "store TOTP of user "+v.User.ID.String())
	})
	if err != nil {
		return nil, err
	}
	return &TotpEnrollment{Secret: key.Secret, URI: key.URI, QRCodeSVG: svg}, nil
}

// ConfirmTotp activates the viewer's enrolled TOTP secret with a current
// code of it, and returns 10 new recovery codes, shown only this once (any
// older ones stop working). The user then has a second factor: their next
// sign-ins with the password need it, and the viewer's session counts as
// having passed it. It is audited as mfa.totp_enabled, and the user is
// mailed a notice. Returns BAD_USER_INPUT (field code) when nothing is
// enrolled or the code is wrong, FORBIDDEN when TOTP is off on this
// server, RATE_LIMITED.
func (s *Service) ConfirmTotp(ctx context.Context, v *Viewer, code string) ([]string, error) {
	if err := s.allow(ctx, "confirmTotp"); err != nil {
		return nil, err
	}
	if s.opts.TOTPSecrets == nil {
		return nil, errTOTPOff
	}
	t, err := s.client.Totp.Query().Where(totp.UserID(v.User.ID), totp.ConfirmedAtIsNil()).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.Input("code", "no TOTP secret waits to be confirmed: enrollTotp first")
	case err != nil:
		return nil, fmt.Errorf("load enrolled TOTP of user %s: %w", v.User.ID, err)
	}
	step, ok, err := s.matchTOTP(t, strings.Join(strings.Fields(code), ""))
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errWrongCode
	}
	var codes []string
	err = s.withTx(ctx, func(tx *txn) error {
		if err := tx.lockUserRow(ctx, v.User.ID); err != nil {
			return err
		}
		n, err := tx.Totp.Update().Where(totp.ID(t.ID), totp.ConfirmedAtIsNil()).
			SetConfirmedAt(s.now()).SetLastStep(step).Save(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("confirm TOTP of user %s: %w", v.User.ID, err)
		case n == 0:
			return apperr.Input("code", "no TOTP secret waits to be confirmed: enrollTotp first")
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, v.User.ID); err != nil {
			return err
		}
		if err := s.passedNow(ctx, tx, v); err != nil {
			return err
		}
		if err := s.syncFactors(ctx, tx, v.User.ID); err != nil {
			return err
		}
		if err := tx.audit(ctx, "mfa.totp_enabled", v.User.ID, fmt.Sprintf("%d recovery codes", recoveryCodes)); err != nil {
			return err
		}
		return s.notify(ctx, tx, mail.SecondFactorAdded{To: v.User.Email, Factor: factorTOTP})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTotp removes the viewer's TOTP secret and recovery codes, given
// the current password and a code (a TOTP code or a recovery code,
// checked as VerifySecondFactor checks it, wrong ones counted alike). It
// is audited as mfa.totp_disabled, and the user is mailed a notice.
// Returns BAD_USER_INPUT without currentPassword or code or for a wrong
// code, UNAUTHENTICATED for a wrong password (or when wrong codes ended
// the session), NOT_FOUND when TOTP is not on, RATE_LIMITED.
func (s *Service) DisableTotp(ctx context.Context, v *Viewer, currentPassword, code string) error {
	if err := s.allow(ctx, "disableTotp"); err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return err
	}
	on, err := s.client.Totp.Query().Where(totp.UserID(v.User.ID), totp.ConfirmedAtNotNil()).Exist(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("look up TOTP of user %s: %w", v.User.ID, err)
	case !on:
		return errNoTOTP
	}
	return s.checkCode(ctx, v, code, func(tx *txn, factor string) error {
		if _, err := tx.Totp.Delete().Where(totp.UserID(v.User.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("delete TOTP of user %s: %w", v.User.ID, err)
		}
		if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(v.User.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("delete recovery codes of user %s: %w", v.User.ID, err)
		}
		if err := s.syncFactors(ctx, tx, v.User.ID); err != nil {
			return err
		}
		if err := tx.audit(ctx, "mfa.totp_disabled", v.User.ID, "confirmed with a "+factor); err != nil {
			return err
		}
		return s.notify(ctx, tx, mail.SecondFactorRemoved{To: v.User.Email, Factor: factorTOTP})
	})
}

// RegenerateRecoveryCodes replaces the viewer's recovery codes with 10 new
// ones, shown only this once, audited as mfa.recovery_codes_regenerated.
// Returns BAD_USER_INPUT without currentPassword, UNAUTHENTICATED for a
// wrong one, NOT_FOUND when TOTP is not on, RATE_LIMITED.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, v *Viewer, currentPassword string) ([]string, error) {
	if err := s.allow(ctx, "regenerateRecoveryCodes"); err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return nil, err
	}
	var codes []string
	err := s.withTx(ctx, func(tx *txn) error {
		on, err := tx.lockTOTPOn(ctx, v.User.ID)
		switch {
		case err != nil:
			return err
		case !on:
			return errNoTOTP
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, v.User.ID); err != nil {
			return err
		}
		return tx.audit(ctx, "mfa.recovery_codes_regenerated", v.User.ID, fmt.Sprintf("%d recovery codes", recoveryCodes))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// matchTOTP opens t's secret and matches code against it at now (see
// totpcode.Match: a code not of TOTP's form matches nothing).
func (s *Service) matchTOTP(t *ent.Totp, code string) (int64, bool, error) {
	if s.opts.TOTPSecrets == nil {
		return 0, false, fmt.Errorf("TOTP of user %s: %w", t.UserID, errTOTPOff)
	}
	secret, err := s.opts.TOTPSecrets.Open(t.UserID.String(), t.Secret)
	if err != nil {
		return 0, false, fmt.Errorf("TOTP of user %s: %w", t.UserID, err)
	}
	return totpcode.Match(string(secret), code, s.now(), t.LastStep)
}

// replaceRecoveryCodes deletes user u's recovery codes and stores
// recoveryCodes new ones, hashed, in tx; it returns them as shown once.
func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *txn, u uuid.UUID) ([]string, error) {
	if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(u)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete recovery codes of user %s: %w", u, err)
	}
	codes := make([]string, recoveryCodes)
	creates := make([]*ent.RecoveryCodeCreate, recoveryCodes)
	for i := range codes {
		code, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = code
		creates[i] = tx.RecoveryCode.Create().SetUserID(u).SetHash(recoveryHash(u, code)).SetCreatedAt(s.now())
	}
	if err := tx.RecoveryCode.CreateBulk(creates...).Exec(ctx); err != nil {
		return nil, fmt.Errorf("store recovery codes of user %s: %w", u, err)
	}
	return codes, nil
}

// recoveryAlphabet is base32 in lower case: no 0, 1, 8 or 9 to misread.
var recoveryAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCode returns a recovery code of 80 random bits: 16 base32
// letters and digits in four groups, such as "k7xq-2mfa-pz4d-w6ra".
func newRecoveryCode() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate recovery code: %w", err)
	}
	s := recoveryAlphabet.EncodeToString(b[:])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// recoveryHash is what is stored of user u's recovery code: SHA-256 of the
// user's id and the code without its dashes, spaces and case. The codes
// hold 80 random bits, so a fast hash is as safe as a slow one.
func recoveryHash(u uuid.UUID, code string) string {
	normal := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte(u.String() + ":" + normal))
	return hex.EncodeToString(sum[:])
}

// RecoveryCodesLeft returns how many unused recovery codes user u has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, u uuid.UUID) (int, error) {
	n, err := s.client.RecoveryCode.Query().Where(recoverycode.UserID(u)).Count(ctx)
	return n, wrapErr(err, "count recovery codes of user "+u.String())
}

// lockTOTPOn locks user id's row in tx (see lockUserRow) and reports
// whether they have TOTP on (a confirmed secret).
func (t *txn) lockTOTPOn(ctx context.Context, id uuid.UUID) (bool, error) {
	if err := t.lockUserRow(ctx, id); err != nil {
		return false, err
	}
	on, err := t.Totp.Query().Where(totp.UserID(id), totp.ConfirmedAtNotNil()).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("look up TOTP of user %s: %w", id, err)
	}
	return on, nil
}
