package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"bitgate/ent"
	entpasskey "bitgate/ent/passkey"
	"bitgate/ent/recoverycode"
	"bitgate/ent/totp"
	"bitgate/ent/user"
	"bitgate/ent/webauthnchallenge"
	"bitgate/internal/apperr"
	"bitgate/internal/mail"
	"bitgate/internal/passkey"
)

// challengeTTL is how long a begun WebAuthn ceremony may be finished.
const challengeTTL = 5 * time.Minute

var (
	errNoChallenge     = apperr.Input("response", "the response answers no ceremony begun here, or one used or older than 5 minutes: begin again")
	errPasskeyRefused  = apperr.New(apperr.Unauthenticated, "passkey not accepted")
	errNoPasskey       = apperr.New(apperr.NotFound, "no passkey is registered for this account")
	errPasskeyTaken    = apperr.New(apperr.Conflict, "this passkey is registered already")
	errTooManyPasskeys = apperr.New(apperr.Conflict,
		fmt.Sprintf("this account has %d passkeys, the most it may have: remove one first", MaxPasskeys))
)

// MaxPasskeys is the most passkeys a user may have, so that the list (and
// what a query of users' second factors costs) stays bounded.
const MaxPasskeys = 20

// SecondFactors is what second factors a user has.
type SecondFactors struct {
	// Totp is whether TOTP is on.
	Totp bool
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
	// Passkeys are the user's passkeys, oldest first.
	Passkeys []*ent.Passkey
}

// SecondFactors returns the second factors of user u, for the viewer:
// themself or an ADMIN. Returns FORBIDDEN for anyone else.
func (s *Service) SecondFactors(ctx context.Context, v *Viewer, u *ent.User) (*SecondFactors, error) {
	if u.ID != v.User.ID && !v.IsAdmin() {
		return nil, v.notAdmin(apperr.ErrForbidden)
	}
	var f SecondFactors
	var err error
	if f.Totp, err = s.client.Totp.Query().Where(totp.UserID(u.ID), totp.ConfirmedAtNotNil()).Exist(ctx); err != nil {
		return nil, fmt.Errorf("look up TOTP of user %s: %w", u.ID, err)
	}
	if f.RecoveryCodesLeft, err = s.RecoveryCodesLeft(ctx, u.ID); err != nil {
		return nil, err
	}
	if f.Passkeys, err = s.passkeys(ctx, u.ID); err != nil {
		return nil, err
	}
	return &f, nil
}

// passkeys returns user u's passkeys, oldest first.
func (s *Service) passkeys(ctx context.Context, u uuid.UUID) ([]*ent.Passkey, error) {
	list, err := s.client.Passkey.Query().Where(entpasskey.UserID(u)).Order(entpasskey.ByCreatedAt(), entpasskey.ByID()).All(ctx)
	return list, wrapErr(err, "list passkeys of user "+u.String())
}

// ceremonyUser returns u as the WebAuthn ceremonies see them, with the
// credentials of keys.
func ceremonyUser(u *ent.User, keys []*ent.Passkey) (passkey.User, error) {
	pu := passkey.User{ID: u.ID, Name: u.Email, DisplayName: u.FirstName + " " + u.LastName}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return pu, fmt.Errorf("decode passkey %s: %w", k.ID, err)
		}
		pu.Credentials = append(pu.Credentials, c)
	}
	return pu, nil
}

// relyingParty returns the relying party, or FORBIDDEN when passkeys are
// off on this server.
func (s *Service) relyingParty() (*passkey.RelyingParty, error) {
	if s.opts.Passkeys == nil {
		return nil, errPasskeysOff
	}
	return s.opts.Passkeys, nil
}

// beginFor begins a ceremony for the viewer's user, whose passkeys are
// keys, with begin (the relying party's BeginRegistration or
// BeginVerification), and stores its challenge, bound to the viewer's
// session; it answers the options for the browser.
func (s *Service) beginFor(ctx context.Context, v *Viewer, keys []*ent.Passkey, ceremony webauthnchallenge.Ceremony,
	begin func(passkey.User) (passkey.Begun, error)) (json.RawMessage, error) {
	pu, err := ceremonyUser(v.User, keys)
	if err != nil {
		return nil, err
	}
	b, err := begin(pu)
	if err != nil {
		return nil, err
	}
	if err := s.storeChallenge(ctx, b, ceremony, v.User.ID, v.SessionID); err != nil {
		return nil, err
	}
	return b.Options, nil
}

// storeChallenge keeps what a ceremony begun for ceremony needs until it
// finishes, for challengeTTL; userID and sessionID are those it is for
// (uuid.Nil: none).
func (s *Service) storeChallenge(ctx context.Context, b passkey.Begun, ceremony webauthnchallenge.Ceremony, userID, sessionID uuid.UUID) error {
	c := s.client.WebauthnChallenge.Create().
		SetChallenge(b.Challenge).SetCeremony(ceremony).SetData(b.Data).SetExpiresAt(s.now().Add(challengeTTL))
	if userID != uuid.Nil {
		c.SetUserID(userID).SetSessionID(sessionID)
	}
	return wrapErr(c.Exec(ctx), "store WebAuthn challenge")
}

// takeChallenge finds and deletes, in one transaction, the live challenge
// of ceremony begun for userID and sessionID (uuid.Nil: none), whatever
// the answer then proves: a challenge is answered once, and of answers at
// once, the one that deletes it takes it. Returns its data,
// or BAD_USER_INPUT (field response) for none: unknown, used, expired, or
// begun for another ceremony, user or session.
func (s *Service) takeChallenge(ctx context.Context, challenge string, ceremony webauthnchallenge.Ceremony, userID, sessionID uuid.UUID) ([]byte, error) {
	var data []byte
	err := s.withTx(ctx, func(tx *txn) error {
		q := tx.WebauthnChallenge.Query().Where(webauthnchallenge.Challenge(challenge),
			webauthnchallenge.CeremonyEQ(ceremony), webauthnchallenge.ExpiresAtGT(s.now()))
		if userID != uuid.Nil {
			q.Where(webauthnchallenge.UserID(userID), webauthnchallenge.SessionID(sessionID))
		}
		c, err := q.Only(ctx)
		switch {
		case ent.IsNotFound(err):
			return errNoChallenge
		case err != nil:
			return fmt.Errorf("load WebAuthn challenge: %w", err)
		}
		n, err := tx.WebauthnChallenge.Delete().Where(webauthnchallenge.ID(c.ID)).Exec(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("spend WebAuthn challenge: %w", err)
		case n == 0: // a concurrent answer took it
			return errNoChallenge
		}
		data = c.Data
		return nil
	})
	return data, err
}

// refused is the answer to a WebAuthn response that did not pass:
// BAD_USER_INPUT (field response) saying why, for a *passkey.Refusal;
// other errors as they are.
func refused(err error) error {
	var r *passkey.Refusal
	if errors.As(err, &r) {
		return &apperr.Error{Code: apperr.BadUserInput, Field: "response", Message: r.Error(), Err: err}
	}
	return err
}

// BeginPasskeyRegistration begins making a passkey for the viewer: it
// returns PublicKeyCredentialCreationOptionsJSON for the browser
// (PublicKeyCredential.parseCreationOptionsFromJSON, then
// navigator.credentials.create), whose answer FinishPasskeyRegistration
// takes within 5 minutes, on any instance. The current password is needed,
// as for TOTP: a passkey signs in on its own, so a stolen session must not
// be able to add one. Returns BAD_USER_INPUT without currentPassword,
// UNAUTHENTICATED for a wrong one, FORBIDDEN when passkeys are off,
// RATE_LIMITED.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, v *Viewer, currentPassword string) (json.RawMessage, error) {
	if err := s.allow(ctx, "beginPasskeyRegistration"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return nil, err
	}
	keys, err := s.passkeys(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	return s.beginFor(ctx, v, keys, webauthnchallenge.CeremonyRegistration, rp.BeginRegistration)
}

// FinishPasskeyRegistration stores the passkey of response (a
// RegistrationResponseJSON, the browser's credential.toJSON()) made for
// the viewer's ceremony begun by BeginPasskeyRegistration in this session,
// named name (or "passkey"). The user then has a second factor, and the
// session counts as having passed it. It is audited as mfa.passkey_added,
// and the user is mailed a notice. Returns BAD_USER_INPUT (field response)
// for a response that answers no live ceremony or does not pass (field
// name for a bad name), CONFLICT for a passkey registered already,
// FORBIDDEN when passkeys are off, RATE_LIMITED.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, v *Viewer, response json.RawMessage, name *string) (*ent.Passkey, error) {
	if err := s.allow(ctx, "finishPasskeyRegistration"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	label := "passkey"
	if name != nil && strings.TrimSpace(*name) != "" {
		if label, err = cleanName("name", *name); err != nil {
			return nil, err
		}
	}
	r, err := passkey.ParseRegistration(response)
	if err != nil {
		return nil, refused(err)
	}
	data, err := s.takeChallenge(ctx, r.Challenge(), webauthnchallenge.CeremonyRegistration, v.User.ID, v.SessionID)
	if err != nil {
		return nil, err
	}
	pu, err := ceremonyUser(v.User, nil)
	if err != nil {
		return nil, err
	}
	cred, err := rp.FinishRegistration(pu, data, r)
	if err != nil {
		return nil, refused(err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("encode passkey: %w", err)
	}
	var k *ent.Passkey
	err = s.withTx(ctx, func(tx *txn) error {
		if err := tx.lockUserRow(ctx, v.User.ID); err != nil {
			return err
		}
		switch n, err := tx.Passkey.Query().Where(entpasskey.UserID(v.User.ID)).Count(ctx); {
		case err != nil:
			return fmt.Errorf("count passkeys of user %s: %w", v.User.ID, err)
		case n >= MaxPasskeys:
			return errTooManyPasskeys
		}
		k, err = tx.Passkey.Create().SetUserID(v.User.ID).SetCredentialID(cred.ID).SetCredential(raw).
			SetName(label).SetCreatedAt(s.now()).Save(ctx)
		switch {
		case ent.IsConstraintError(err):
			return errPasskeyTaken
		case err != nil:
			return fmt.Errorf("store passkey of user %s: %w", v.User.ID, err)
		}
		if err := s.passedNow(ctx, tx, v); err != nil {
			return err
		}
		if err := s.syncFactors(ctx, tx, v.User.ID); err != nil {
			return err
		}
		if err := tx.audit(ctx, "mfa.passkey_added", v.User.ID, "passkey "+k.ID.String()); err != nil {
			return err
		}
		return s.notify(ctx, tx, mail.SecondFactorAdded{To: v.User.Email, Factor: factorPasskey})
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RemovePasskey deletes the viewer's passkey id, given the current
// password; audited as mfa.passkey_removed, and the user is mailed a
// notice. Returns BAD_USER_INPUT without currentPassword, UNAUTHENTICATED
// for a wrong one, NOT_FOUND for a passkey that is not the viewer's,
// RATE_LIMITED.
func (s *Service) RemovePasskey(ctx context.Context, v *Viewer, id uuid.UUID, currentPassword string) error {
	if err := s.allow(ctx, "removePasskey"); err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, v.User, &currentPassword); err != nil {
		return err
	}
	return s.withTx(ctx, func(tx *txn) error {
		if err := tx.lockUserRow(ctx, v.User.ID); err != nil {
			return err
		}
		n, err := tx.Passkey.Delete().Where(entpasskey.ID(id), entpasskey.UserID(v.User.ID)).Exec(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("delete passkey %s: %w", id, err)
		case n == 0:
			return apperr.ErrNotFound
		}
		if err := s.syncFactors(ctx, tx, v.User.ID); err != nil {
			return err
		}
		if err := tx.audit(ctx, "mfa.passkey_removed", v.User.ID, "passkey "+id.String()); err != nil {
			return err
		}
		return s.notify(ctx, tx, mail.SecondFactorRemoved{To: v.User.Email, Factor: factorPasskey})
	})
}

// BeginPasskeySignin begins a sign-in with a passkey, for anyone: it
// returns PublicKeyCredentialRequestOptionsJSON without allowCredentials
// (the browser offers the passkeys it holds for this site), whose answer
// FinishPasskeySignin takes within 5 minutes, on any instance. Returns
// FORBIDDEN when passkeys are off, RATE_LIMITED.
func (s *Service) BeginPasskeySignin(ctx context.Context) (json.RawMessage, error) {
	if err := s.allow(ctx, "beginPasskeySignin"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	b, err := rp.BeginSignin()
	if err != nil {
		return nil, err
	}
	if err := s.storeChallenge(ctx, b, webauthnchallenge.CeremonySignin, uuid.Nil, uuid.Nil); err != nil {
		return nil, err
	}
	return b.Options, nil
}

// FinishPasskeySignin signs in with response (an
// AuthenticationResponseJSON) to a ceremony BeginPasskeySignin began: the
// passkey and its user handle name the user, and its signature, made with
// user verification, counts as both factors, so the session starts having
// passed its second factor. Audited as signin; a refused passkey as
// signin.failed, with why. Returns BAD_USER_INPUT (field response) for a
// response that is malformed or answers no live ceremony,
// UNAUTHENTICATED for a passkey that is unknown or does not pass,
// FORBIDDEN when passkeys are off, RATE_LIMITED.
func (s *Service) FinishPasskeySignin(ctx context.Context, response json.RawMessage) (*Payload, error) {
	if err := s.allow(ctx, "finishPasskeySignin"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	a, err := passkey.ParseAssertion(response)
	if err != nil {
		return nil, refused(err)
	}
	data, err := s.takeChallenge(ctx, a.Challenge(), webauthnchallenge.CeremonySignin, uuid.Nil, uuid.Nil)
	if err != nil {
		return nil, err
	}
	k, err := s.client.Passkey.Query().Where(entpasskey.CredentialID(a.CredentialID())).WithUser().Only(ctx)
	switch {
	case ent.IsNotFound(err):
		s.audit(ctx, "signin.failed", uuid.Nil, "unknown passkey")
		return nil, errPasskeyRefused
	case err != nil:
		return nil, fmt.Errorf("load passkey: %w", err)
	}
	u := k.Edges.User
	pu, err := ceremonyUser(u, []*ent.Passkey{k})
	if err != nil {
		return nil, err
	}
	cred, err := rp.FinishSignin(pu, data, a)
	if err != nil {
		s.log.InfoContext(ctx, "passkey sign-in refused", slog.String("user_id", u.ID.String()), slog.Any("error", err))
		detail := "passkey " + k.ID.String() + " refused"
		if r := (*passkey.Refusal)(nil); errors.As(err, &r) {
			detail += ": " + r.Reason
			if r.Info != "" {
				detail += " (" + r.Info + ")"
			}
		}
		s.audit(ctx, "signin.failed", u.ID, detail)
		return nil, errPasskeyRefused
	}
	var p *Payload
	err = s.withTx(ctx, func(tx *txn) error {
		current, err := tx.User.Query().Where(user.ID(u.ID), lockUser).Only(ctx)
		if err != nil {
			return wrapErr(err, "load user "+u.ID.String())
		}
		if err := s.usedPasskey(ctx, tx, k, cred); err != nil {
			return err
		}
		if p, err = s.startSession(ctx, tx, current, byPasskey); err != nil {
			return err
		}
		return tx.audit(ctx, "signin", u.ID, "passkey "+k.ID.String()+", session "+p.SessionID.String())
	})
	if ent.IsNotFound(err) {
		return nil, errPasskeyRefused // the user or the passkey went meanwhile
	}
	return p, err
}

// usedPasskey stores, in tx, passkey k's credential as an assertion just
// updated it (its sign count), and when it was used.
func (s *Service) usedPasskey(ctx context.Context, tx *txn, k *ent.Passkey, cred *webauthn.Credential) error {
	raw, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("encode passkey: %w", err)
	}
	err = tx.Passkey.UpdateOneID(k.ID).SetCredential(raw).SetLastUsedAt(s.now()).Exec(ctx)
	if ent.IsNotFound(err) {
		return err
	}
	return wrapErr(err, "update passkey "+k.ID.String())
}

// BeginPasskeyVerification begins an assertion with one of the viewer's
// passkeys as the second factor of their session: it returns
// PublicKeyCredentialRequestOptionsJSON listing them in
// allowCredentials, whose answer FinishPasskeyVerification takes within 5
// minutes, in this session. Returns NOT_FOUND when the user has no
// passkey, FORBIDDEN when passkeys are off, RATE_LIMITED.
func (s *Service) BeginPasskeyVerification(ctx context.Context, v *Viewer) (json.RawMessage, error) {
	if err := s.allow(ctx, "beginPasskeyVerification"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	keys, err := s.passkeys(ctx, v.User.ID)
	switch {
	case err != nil:
		return nil, err
	case len(keys) == 0:
		return nil, errNoPasskey
	}
	return s.beginFor(ctx, v, keys, webauthnchallenge.CeremonyVerification, rp.BeginVerification)
}

// FinishPasskeyVerification passes the second factor of the viewer's
// session with response (an AuthenticationResponseJSON) to the ceremony
// BeginPasskeyVerification began in it, as VerifySecondFactor does with a
// code: a new token pair, the refresh token rotated. Returns BAD_USER_INPUT
// (field response) for a response that answers no live ceremony of this
// session or does not pass, UNAUTHENTICATED if the session ended
// meanwhile, FORBIDDEN when passkeys are off, RATE_LIMITED.
func (s *Service) FinishPasskeyVerification(ctx context.Context, v *Viewer, response json.RawMessage) (*Payload, error) {
	if err := s.allow(ctx, "verifySecondFactor"); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	a, err := passkey.ParseAssertion(response)
	if err != nil {
		return nil, refused(err)
	}
	data, err := s.takeChallenge(ctx, a.Challenge(), webauthnchallenge.CeremonyVerification, v.User.ID, v.SessionID)
	if err != nil {
		return nil, err
	}
	k, err := s.client.Passkey.Query().Where(entpasskey.CredentialID(a.CredentialID()), entpasskey.UserID(v.User.ID)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, refused(&passkey.Refusal{Reason: "the passkey is not one of this account's"})
	case err != nil:
		return nil, fmt.Errorf("load passkey: %w", err)
	}
	pu, err := ceremonyUser(v.User, []*ent.Passkey{k})
	if err != nil {
		return nil, err
	}
	cred, err := rp.FinishVerification(pu, data, a)
	if err != nil {
		return nil, refused(err)
	}
	var p *Payload
	err = s.withTx(ctx, func(tx *txn) error {
		if err := s.usedPasskey(ctx, tx, k, cred); err != nil {
			return wrapErr(err, "update passkey")
		}
		p, err = s.passSecondFactor(ctx, tx, v, factorPasskey)
		return err
	})
	return p, err
}

// RemoveSecondFactors removes every second factor of user id (TOTP, its
// recovery codes, passkeys), for an ADMIN helping a user who lost them
// (the field's directive checks ADMIN): the user signs in with the
// password alone again, and sets up new ones. It is audited as
// mfa.removed_by_admin, with the ADMIN as its actor, and the user is
// mailed a notice. Returns FORBIDDEN for the ADMIN's own account (which
// disableTotp and removePasskey serve, with the password and a code),
// NOT_FOUND for a missing user.
func (s *Service) RemoveSecondFactors(ctx context.Context, v *Viewer, id uuid.UUID) (*ent.User, error) {
	if id == v.User.ID {
		return nil, errFactorsOfSelf
	}
	var u *ent.User
	err := s.withTx(ctx, func(tx *txn) error {
		var err error
		if u, err = tx.User.Query().Where(user.ID(id), lockUser).WithTotp().Only(ctx); err != nil {
			return err
		}
		hadTOTP := u.Edges.Totp != nil && u.Edges.Totp.ConfirmedAt != nil // not one only enrolled
		if _, err := tx.Totp.Delete().Where(totp.UserID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("delete TOTP of user %s: %w", id, err)
		}
		codes, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(id)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete recovery codes of user %s: %w", id, err)
		}
		keys, err := tx.Passkey.Delete().Where(entpasskey.UserID(id)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete passkeys of user %s: %w", id, err)
		}
		if err := s.syncFactors(ctx, tx, id); err != nil {
			return err
		}
		if u, err = tx.User.Get(ctx, id); err != nil {
			return err
		}
		removed := describeFactors(hadTOTP, codes, keys)
		if err := tx.audit(ctx, "mfa.removed_by_admin", id, removed); err != nil {
			return err
		}
		if removed == "none" {
			return nil
		}
		return s.notify(ctx, tx, mail.SecondFactorRemoved{To: u.Email, Factor: removed, ByAdmin: true})
	})
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.ErrNotFound
	case err != nil:
		return nil, err
	}
	return u, nil
}

// describeFactors says what RemoveSecondFactors removed, as audit events
// and mail give it: "TOTP, 10 recovery codes and 2 passkeys", or "none".
func describeFactors(totp bool, codes, passkeys int) string {
	var parts []string
	if totp {
		parts = append(parts, factorTOTP)
	}
	plural := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	if codes > 0 {
		parts = append(parts, plural(codes, factorRecovery))
	}
	if passkeys > 0 {
		parts = append(parts, plural(passkeys, factorPasskey))
	}
	switch len(parts) {
	case 0:
		return "none"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
