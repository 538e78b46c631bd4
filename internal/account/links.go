package account

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"bitgate/ent"
	"bitgate/ent/emailtoken"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
	"bitgate/internal/database"
	"bitgate/internal/mail"
)

// How long the token of each kind of link works, as the contract fixes it.
var tokenTTL = map[emailtoken.Kind]time.Duration{
	emailtoken.KindVerifyEmail:   24 * time.Hour,
	emailtoken.KindResetPassword: time.Hour,
	emailtoken.KindChangeEmail:   time.Hour,
}

// mailKind is the mail that carries a token of each kind.
var mailKind = map[emailtoken.Kind]mail.Kind{
	emailtoken.KindVerifyEmail:   mail.KindVerifyEmail,
	emailtoken.KindResetPassword: mail.KindResetPassword,
	emailtoken.KindChangeEmail:   mail.KindConfirmEmailChange,
}

var (
	// errBadToken answers every refused token alike: unknown, spent,
	// replaced, expired, of another kind, or no longer bound to its user's
	// email and credential version.
	errBadToken = apperr.Input("token", "invalid or expired link: ask for a new one")
	// errMailDisabled answers the operations that must send mail when mail
	// is turned off.
	errMailDisabled = &apperr.Error{Code: apperr.Forbidden, Reason: apperr.ReasonMailDisabled,
		Message: "this server sends no mail (MAIL_DISABLED): ask its administrators"}
	// errEmailNotVerified answers the fields under @hasPermission while
	// EMAIL_VERIFICATION is required and the caller's email is not
	// verified.
	errEmailNotVerified = &apperr.Error{Code: apperr.Forbidden, Reason: apperr.ReasonEmailNotVerified,
		Message: "verify your email first: requestEmailVerification mails you a link"}
)

// mailOn reports whether the server sends mail.
func (s *Service) mailOn() bool { return s.mail != nil }

// mayMail reports, in tx, whether u may be mailed a link of kind to the
// address to now, under the per-address limits (see mail.Mailer.Allow).
// On PostgreSQL it first locks u's row until tx ends (see lockUserRow), so
// that u's requests for links take turns: each replaces u's token of its
// kind (see sendLink), whatever address it goes to. A caller that changes
// u's row in tx does so first, so that locks are always taken user first,
// then address.
func (s *Service) mayMail(ctx context.Context, tx *txn, u *ent.User, to string, kind emailtoken.Kind) (bool, error) {
	if err := tx.lockUserRow(ctx, u.ID); err != nil {
		return false, err
	}
	return s.mail.Allow(ctx, tx.Tx, to, mailKind[kind])
}

// sendLink gives u a new token of kind, bound to u's email and credential
// version, replacing the one of that kind u had, and queues the mail that
// carries it, in tx: to u's email, or to newEmail for an email change.
// Mail must be on, and mayMail must have said yes in tx.
func (s *Service) sendLink(ctx context.Context, tx *txn, u *ent.User, kind emailtoken.Kind, newEmail string) error {
	// A link's token has the form of a refresh token: 256 random bits,
	// stored as their SHA-256.
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return fmt.Errorf("new %s token: %w", kind, err)
	}
	if _, err := tx.EmailToken.Delete().Where(emailtoken.UserID(u.ID), emailtoken.KindEQ(kind)).Exec(ctx); err != nil {
		return fmt.Errorf("replace %s token of user %s: %w", kind, u.ID, err)
	}
	now, ttl := s.now(), tokenTTL[kind]
	create := tx.EmailToken.Create().SetUserID(u.ID).SetKind(kind).SetTokenHash(hash).
		SetEmail(u.Email).SetCredentialVersion(u.CredentialVersion).
		SetCreatedAt(now).SetExpiresAt(now.Add(ttl))
	var msg mail.Message
	switch kind {
	case emailtoken.KindVerifyEmail:
		msg = mail.VerifyEmail{To: u.Email, Token: token, ValidFor: ttl}
	case emailtoken.KindResetPassword:
		msg = mail.ResetPassword{To: u.Email, Token: token, ValidFor: ttl}
	case emailtoken.KindChangeEmail:
		create.SetNewEmail(newEmail)
		msg = mail.ConfirmEmailChange{To: newEmail, OldEmail: u.Email, Token: token, ValidFor: ttl}
	}
	if err := create.Exec(ctx); err != nil {
		return fmt.Errorf("store %s token of user %s: %w", kind, u.ID, err)
	}
	return s.mail.Queue(ctx, tx.Tx, msg)
}

// findToken returns the live token of kind that token is, with its user,
// read without a transaction: not expired, and its user's email and
// credential version still those it was issued with. Returns errBadToken
// for any other token, or an error if the database fails.
func (s *Service) findToken(ctx context.Context, token string, kind emailtoken.Kind) (*ent.EmailToken, error) {
	if token == "" || len(token) > maxRefreshTokenLen {
		return nil, errBadToken
	}
	t, err := s.client.EmailToken.Query().
		Where(emailtoken.TokenHash(auth.HashRefreshToken(token)), emailtoken.KindEQ(kind), emailtoken.ExpiresAtGT(s.now())).
		WithUser().
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, errBadToken
	case err != nil:
		return nil, fmt.Errorf("look up %s token: %w", kind, err)
	case t.Edges.User.Email != t.Email || t.Edges.User.CredentialVersion != t.CredentialVersion:
		return nil, errBadToken
	}
	return t, nil
}

// spendToken deletes t in tx, so that it works once: errBadToken if it is
// gone already (a concurrent use of the same token spent it first, or a
// newer request replaced it).
func spendToken(ctx context.Context, tx *txn, t *ent.EmailToken) error {
	n, err := tx.EmailToken.Delete().Where(emailtoken.ID(t.ID)).Exec(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("spend %s token: %w", t.Kind, err)
	case n == 0:
		return errBadToken
	}
	return nil
}

// notify queues the notice msg in tx, if mail is on, under the hourly
// per-address limit (see mail.Mailer.QueueNotice: a notice it holds back
// is not sent), so that nobody can mail an address notices without end: a
// notice never stops the change it tells about.
func (s *Service) notify(ctx context.Context, tx *txn, msg mail.Message) error {
	if !s.mailOn() {
		return nil
	}
	_, err := s.mail.QueueNotice(ctx, tx.Tx, msg)
	return err
}

// tellChanges queues the notices of a change of user before into after,
// in tx: to the old address when the password or the email changed
// (byAdmin: an ADMIN set the password), and a verification link to a new
// address, under the per-address limits.
func (s *Service) tellChanges(ctx context.Context, tx *txn, before, after *ent.User, byAdmin bool) error {
	if !s.mailOn() {
		return nil
	}
	if before.PasswordHash != after.PasswordHash {
		if err := s.notify(ctx, tx, mail.PasswordChanged{To: before.Email, ByAdmin: byAdmin}); err != nil {
			return err
		}
	}
	if before.Email == after.Email {
		return nil
	}
	if err := s.notify(ctx, tx, mail.EmailChanged{To: before.Email, NewEmail: after.Email}); err != nil {
		return err
	}
	if ok, err := s.mayMail(ctx, tx, after, after.Email, emailtoken.KindVerifyEmail); err != nil || !ok {
		return err
	}
	return s.sendLink(ctx, tx, after, emailtoken.KindVerifyEmail, "")
}

// maxDetached bounds the work running after its request was answered (see
// afterAnswer); detachedTimeout bounds each.
const (
	maxDetached     = 64
	detachedTimeout = 30 * time.Second
)

// afterAnswer runs fn on a goroutine of its own, on ctx's values (the
// client's address and the request's id, for the audit) without its
// cancellation or deadline, so that the request's answer does not wait for
// it: for work whose time would tell what the answer must not (whether an
// email has an account, see RequestPasswordReset). fn's error is logged.
// When maxDetached pieces run already, it waits for one to end, as long
// as ctx lets it (a flood of such requests slows them all down alike, and
// turns none away at once), and then returns RATE_LIMITED. Wait waits for
// them.
func (s *Service) afterAnswer(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	select {
	case s.detached <- struct{}{}:
	case <-ctx.Done():
		return apperr.Limited("too many requests at once, retry shortly", time.Second)
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer func() { <-s.detached }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			level := slog.LevelError
			if database.IsUnavailable(err) {
				level = slog.LevelWarn
			}
			s.log.Log(ctx, level, what, slog.Any("error", err))
		}
	}()
	return nil
}

// Wait waits until the work that requests answered so far left to run
// after their answer is done (see RequestPasswordReset). The server calls
// it once it stopped serving, before it closes the database; a test, to
// see what that work did.
func (s *Service) Wait() { s.done.Wait() }
