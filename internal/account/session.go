package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/emailtoken"
	"bitgate/ent/session"
	"bitgate/ent/spenttoken"
	"bitgate/ent/user"
	"bitgate/internal/apperr"
	"bitgate/internal/auth"
)

// maxRefreshTokenLen bounds the refresh tokens worth hashing; real ones are 43 bytes.
const maxRefreshTokenLen = 128

var (
	errBadAccessToken  = apperr.New(apperr.Unauthenticated, "invalid or revoked access token")
	errExpiredToken    = &apperr.Error{Code: apperr.Unauthenticated, Message: "access token expired: refresh it", Reason: apperr.ReasonTokenExpired}
	errBadRefreshToken = apperr.New(apperr.Unauthenticated, "invalid, expired or revoked refresh token")
)

// Signup creates a FREE user and signs them in, and mails them a link that
// verifies their email when mail is on. Returns BAD_USER_INPUT for
// an invalid field, CONFLICT for a taken email, RATE_LIMITED when password
// hashing is saturated.
func (s *Service) Signup(ctx context.Context, in SignupInput) (*Payload, error) {
	if err := s.allow(ctx, "signup"); err != nil {
		return nil, err
	}
	nu, err := s.validateNewUser(ctx, CreateUserInput{
		FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Password: in.Password,
	})
	if err != nil {
		return nil, err
	}
	var p *Payload
	err = s.withTx(ctx, func(tx *txn) error {
		u, err := nu.create(tx.Client()).Save(ctx)
		if err != nil {
			return userWriteError(err)
		}
		if p, err = s.startSession(ctx, tx, u, byPassword); err != nil {
			return err
		}
		detail := "session " + p.SessionID.String()
		if s.mailOn() {
			if err := s.sendLink(ctx, tx, u, emailtoken.KindVerifyEmail, ""); err != nil {
				return err
			}
			detail += "; verification link mailed"
		}
		return tx.audit(ctx, "signup", u.ID, detail)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Signin checks an email and password and starts a session. A wrong email
// and a wrong password give the same UNAUTHENTICATED error after the same
// amount of hashing work. Only a checked password that does not match
// counts against the email's lockout, and no more passwords of one email
// are checked at once than failures remain before the lock: a sign-in past
// that waits for an attempt (see reserveAttempt). Returns RATE_LIMITED
// while the email is locked out, when ctx's deadline passes before an
// attempt frees, when the client address is over its limit, or when
// hashing is saturated.
func (s *Service) Signin(ctx context.Context, email, password string) (*Payload, error) {
	if err := s.allow(ctx, "signin"); err != nil {
		return nil, err
	}
	if len(password) > maxPasswordBytes {
		return nil, apperr.Input("password", "password must be at most 1024 bytes")
	}
	normal, err := NormalizeEmail(email)
	if err != nil {
		// No account can have it: spend the hash anyway, answer alike.
		if err := s.hasher.VerifyDummy(ctx, password); !errors.Is(err, auth.ErrMismatch) {
			return nil, hasherError(err)
		}
		s.audit(ctx, "signin.failed", uuid.Nil, failureDetail(nil))
		return nil, apperr.ErrBadCredentials
	}
	// Waiting, checking and storing the session are bounded, so that they
	// never outlive the attempt (attemptLease).
	checkCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	a, err := s.reserveAttempt(checkCtx, normal)
	if err != nil {
		return nil, err
	}
	u, needsRehash, err := s.checkPassword(checkCtx, email, normal, password)
	var p *Payload
	if err == nil {
		signinPause(ctx, u, "verified")
		p, err = s.startVerifiedSession(checkCtx, u, a)
		if errors.Is(err, errPasswordChanged) {
			// The password changed while this one was checked: it is wrong now.
			err = auth.ErrMismatch
		}
	}
	if err != nil {
		return nil, s.settleAttempt(ctx, a, u, err)
	}
	if needsRehash {
		s.upgradeHash(ctx, u, password)
	}
	return p, nil
}

// checkPassword loads the account of the email typed as raw (normal form
// normal, see userByEmail) and checks password against its hash; an
// unknown email costs one dummy check. It returns the account (nil for an
// unknown email) and whether its hash needs an upgrade, with
// auth.ErrMismatch for a wrong password or an unknown email, RATE_LIMITED
// when the hashing pool is full, or an error if the lookup or the hashing
// fails.
func (s *Service) checkPassword(ctx context.Context, raw, normal, password string) (*ent.User, bool, error) {
	u, err := s.userByEmail(ctx, raw, normal)
	if err != nil {
		return nil, false, err
	}
	if u == nil {
		return nil, false, verifyError(s.hasher.VerifyDummy(ctx, password))
	}
	needsRehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if errors.Is(err, auth.ErrUnusableHash) {
		// A planted or badly imported hash: refused before any hashing,
		// it costs one dummy check and answers like a wrong password.
		s.log.ErrorContext(ctx, "stored password hash refused", slog.String("user_id", u.ID.String()), slog.Any("error", err))
		err = s.hasher.VerifyDummy(ctx, password)
	}
	return u, needsRehash, verifyError(err)
}

// verifyError passes a verification's outcome on: nil or auth.ErrMismatch
// as they are, anything else through hasherError.
func verifyError(err error) error {
	if err == nil || errors.Is(err, auth.ErrMismatch) {
		return err
	}
	return hasherError(err)
}

// signinPause runs in every sign-in whose password verified, at three
// points: "verified", before the transaction that stores its session;
// "checked", in that transaction, once the credential version was found
// current; and "stored", once the session is stored and the sessions past
// the cap are ended, before the commit. It does nothing; tests replace it
// to pause sign-ins there while a password change or another sign-in
// commits.
var signinPause = func(_ context.Context, _ *ent.User, at string) {}

// errPasswordChanged is startVerifiedSession's refusal.
var errPasswordChanged = errors.New("the password changed during sign-in")

// startVerifiedSession starts a session for u, whose password was just
// verified against u.PasswordHash, if no new password has been set since u
// was read: the credential version read with that hash must still be
// current when the session is stored, checked in the same transaction. On
// PostgreSQL the check also locks the user row against updates and other
// sign-ins until the session is stored (see lockUser), so a password
// change either commits first (and the check fails) or waits, and then
// revokes this session with the others, and two sign-ins of one user
// count the user's sessions one after the other (see startSession); on
// SQLite the transaction holds the database's write lock from its start.
// The session's second factor is decided from the user as read there,
// current (see startSession). The same transaction settles the sign-in's
// attempt a and stores its audit event, so that no session is stored
// whose sign-in then fails, and none without its event. A user with a
// second factor keeps the email's count of failures: only passing the
// factor resets it (see settleCode), or a password thief could reset it
// with each sign-in and guess codes without end. Returns
// errPasswordChanged when the version moved.
func (s *Service) startVerifiedSession(ctx context.Context, u *ent.User, a *attempt) (*Payload, error) {
	var p *Payload
	err := s.withTx(ctx, func(tx *txn) error {
		current, err := tx.User.Query().
			Where(user.ID(u.ID), user.CredentialVersion(u.CredentialVersion), lockUser).
			Only(ctx)
		switch {
		case ent.IsNotFound(err):
			return errPasswordChanged
		case err != nil:
			return fmt.Errorf("check credential version of user %s: %w", u.ID, err)
		}
		signinPause(ctx, u, "checked")
		if p, err = s.startSession(ctx, tx, current, byPassword); err != nil {
			return err
		}
		signinPause(ctx, u, "stored")
		detail := "session " + p.SessionID.String()
		if p.MFARequired {
			detail += ", waiting for its second factor"
		}
		if err := tx.audit(ctx, "signin", u.ID, detail); err != nil {
			return err
		}
		if p.MFARequired {
			return releaseAttempt(ctx, tx.Client(), a)
		}
		return clearFailures(ctx, tx.Client(), a)
	})
	return p, err
}

// lockUser makes a query lock the user rows it reads against updates and
// against other transactions that lock them so, until its transaction
// ends, on PostgreSQL (FOR NO KEY UPDATE: sessions may still be inserted
// for the user meanwhile, as their foreign key takes only a key share).
// SQLite has no row locks and needs none: its transactions are immediate,
// so they run one at a time.
func lockUser(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.For(entsql.LockNoKeyUpdate)
	}
}

// lockUserRow locks user id's row in tx (see lockUser). Every
// transaction that changes a user's second factors or mailed links does
// it first, so that such changes take turns: each reads what the ones
// before it committed (see syncFactors and mayMail). Returns
// errSessionGone if the user is gone.
func (t *txn) lockUserRow(ctx context.Context, id uuid.UUID) error {
	ok, err := t.User.Query().Where(user.ID(id), lockUser).Exist(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("lock user %s: %w", id, err)
	case !ok:
		return errSessionGone
	}
	return nil
}

// upgradeHash rehashes a password whose stored hash is bcrypt or has old
// argon2id parameters. A failure is logged, not returned: the sign-in
// stands, and the next one tries again.
func (s *Service) upgradeHash(ctx context.Context, u *ent.User, password string) {
	h, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.client.User.UpdateOne(u).Where(user.PasswordHash(u.PasswordHash)).SetPasswordHash(h).Exec(ctx)
	}
	if err != nil && !ent.IsNotFound(err) && ctx.Err() == nil { // a client that left is no fault
		s.log.WarnContext(ctx, "upgrade password hash", slog.String("user_id", u.ID.String()), slog.Any("error", err))
	}
}

// signinMethod is how a sign-in proved who the user is, which decides the
// second factor of the session it starts (see startSession).
type signinMethod int

const (
	// byPassword is a sign-in with the password: signup, signin and
	// resetPassword. A user with a second factor gets a session that
	// waits for it (mfaRequired).
	byPassword signinMethod = iota
	// byPasskey is a sign-in with a passkey, which counts as both
	// factors: the session has passed its second factor.
	byPasskey
)

// startSession creates a session for u and issues its first token pair,
// and ends u's least recently used live sessions past MaxSessions (see
// evictSessions). Its second factor is decided here, once for every way
// in (see signinMethod): by password, it waits for one if u has one
// (u.MfaEnabled, read in tx); by passkey, it has passed one. tx must be a
// transaction beside which no other can start a session of u: one that
// created u, or that locked u's row (lockUser), so that u is current.
func (s *Service) startSession(ctx context.Context, tx *txn, u *ent.User, how signinMethod) (*Payload, error) {
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, fmt.Errorf("new refresh token: %w", err)
	}
	info, now := RequestInfoFrom(ctx), s.now()
	create := tx.Session.Create().
		SetUserID(u.ID).
		SetRefreshHash(hash).
		SetCreatedAt(now).
		SetLastUsedAt(now).
		SetExpiresAt(now.Add(s.opts.RefreshTTL)).
		SetClientIP(clip(info.IP, 64)).
		SetUserAgent(clip(info.UserAgent, 512))
	switch {
	case how == byPasskey:
		create.SetMfaPassedAt(now)
	case u.MfaEnabled:
		create.SetMfaRequired(true)
	}
	sess, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create session for user %s: %w", u.ID, err)
	}
	if err := s.evictSessions(ctx, tx, u.ID, sess.ID); err != nil {
		return nil, err
	}
	return s.payload(ctx, u, sess, token)
}

// evictSessions revokes, in tx, the live sessions of user userID past the
// MaxSessions-1 most recently used ones besides keep, each audited as
// session.evicted; one statement finds none when the user is within the
// cap.
func (s *Service) evictSessions(ctx context.Context, tx *txn, userID, keep uuid.UUID) error {
	others, err := tx.Session.Query().
		Where(session.UserID(userID), session.IDNEQ(keep)).Where(s.live()...).
		Select(session.FieldID, session.FieldCreatedAt, session.FieldLastUsedAt).
		All(ctx)
	if err != nil || len(others) < s.opts.MaxSessions {
		return wrapErr(err, "list sessions of user "+userID.String())
	}
	sortByLastUse(others)
	evicted := others[s.opts.MaxSessions-1:]
	ids := make([]uuid.UUID, len(evicted))
	for i, sess := range evicted {
		ids[i] = sess.ID
	}
	if err := tx.Session.Update().Where(session.IDIn(ids...)).SetRevokedAt(s.now()).Exec(ctx); err != nil {
		return fmt.Errorf("end sessions of user %s past the cap: %w", userID, err)
	}
	for _, id := range ids {
		if err := tx.audit(ctx, "session.evicted", userID, "session "+id.String()+" ended past the cap of live sessions"); err != nil {
			return err
		}
	}
	return nil
}

// payload issues an access token of u for sess and wraps the pair. The
// access token of a session that waits for its second factor carries no
// permission (perm 0), and under REQUIRE_ADMIN_MFA that of a session that
// has not passed one carries no ADMIN: this server reads the session on
// every request anyway, but a service that only verifies tokens (by the
// JWKS) must grant them no more than this server does.
func (s *Service) payload(ctx context.Context, u *ent.User, sess *ent.Session, refreshToken string) (*Payload, error) {
	perm := u.PermissionLevel
	switch {
	case sess.MfaRequired:
		perm = 0
	case s.opts.RequireAdminMFA && sess.MfaPassedAt == nil:
		perm &^= PermAdmin
	}
	access, err := s.tokens.Issue(ctx, u.ID, sess.ID, perm)
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	return &Payload{
		AccessToken:  access,
		RefreshToken: refreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.tokens.TTL().Seconds()),
		User:         u,
		MFARequired:  sess.MfaRequired,
		SessionID:    sess.ID,
	}, nil
}

// Refresh spends a refresh token and returns a new pair for its session,
// whose second factor stays as it is (mfaRequired until it passes). Of
// concurrent refreshes of one token exactly one wins: the rotation is a
// conditional update on the current hash. A spent token presented within
// the reuse grace is refused; after it, the session is revoked as stolen.
// Every refusal is UNAUTHENTICATED.
func (s *Service) Refresh(ctx context.Context, token string) (*Payload, error) {
	if err := s.allow(ctx, "refresh"); err != nil {
		return nil, err
	}
	if token == "" || len(token) > maxRefreshTokenLen {
		return nil, errBadRefreshToken
	}
	oldHash := auth.HashRefreshToken(token)
	newToken, newHash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, fmt.Errorf("new refresh token: %w", err)
	}
	info, now := RequestInfoFrom(ctx), s.now()
	var sess *ent.Session
	err = s.withTx(ctx, func(tx *txn) error {
		n, err := tx.Session.Update().
			Where(session.RefreshHash(oldHash), session.RevokedAtIsNil(), session.ExpiresAtGT(now)).
			SetRefreshHash(newHash).
			SetLastUsedAt(now).
			SetClientIP(clip(info.IP, 64)).
			SetUserAgent(clip(info.UserAgent, 512)).
			Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		sess, err = tx.Session.Query().Where(session.RefreshHash(newHash)).WithUser().Only(ctx)
		if err != nil {
			return fmt.Errorf("load rotated session: %w", err)
		}
		return tx.SpentToken.Create().SetHash(oldHash).SetSessionID(sess.ID).SetSpentAt(now).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	if sess == nil {
		return nil, s.revokeIfReused(ctx, oldHash)
	}
	s.log.DebugContext(ctx, "refresh", slog.String("user_id", sess.UserID.String()), slog.String("session_id", sess.ID.String()))
	return s.payload(ctx, sess.Edges.User, sess, newToken)
}

// revokeIfReused refuses a refresh token that did not rotate, and detects
// reuse: a token spent more than the reuse grace ago is taken as stolen, and
// its session is revoked (audited as refresh.reuse_detected), which ends
// the pair issued from it too. Returns UNAUTHENTICATED, or an internal
// error if the lookup or the revocation fails.
func (s *Service) revokeIfReused(ctx context.Context, hash string) error {
	spent, err := s.client.SpentToken.Query().Where(spenttoken.Hash(hash)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return errBadRefreshToken
	case err != nil:
		return fmt.Errorf("look up spent refresh token: %w", err)
	case s.now().Sub(spent.SpentAt) <= s.opts.ReuseGrace:
		return errBadRefreshToken
	}
	err = s.withTx(ctx, func(tx *txn) error {
		sess, err := tx.Session.UpdateOneID(spent.SessionID).
			Where(session.RevokedAtIsNil()).
			SetRevokedAt(s.now()).
			Save(ctx)
		switch {
		case ent.IsNotFound(err): // revoked already
			return nil
		case err != nil:
			return err
		}
		return tx.audit(ctx, "refresh.reuse_detected", sess.UserID, "session "+sess.ID.String()+" revoked")
	})
	if err != nil {
		return fmt.Errorf("revoke session %s after refresh token reuse: %w", spent.SessionID, err)
	}
	return errBadRefreshToken
}

// Signout revokes the viewer's session, or every session of the viewer's
// user when all is true. A session that waits for its second factor may
// end itself only: all then answers FORBIDDEN with the reason
// MFA_REQUIRED, and nothing ends, or a password thief could sign the user
// out everywhere.
func (s *Service) Signout(ctx context.Context, v *Viewer, all bool) error {
	if all && v.MFARequired {
		return apperr.ErrMFARequired
	}
	detail := "session " + v.SessionID.String()
	err := s.withTx(ctx, func(tx *txn) error {
		q := tx.Session.Update().Where(session.RevokedAtIsNil())
		if all {
			q.Where(session.UserID(v.User.ID))
			detail = "all sessions"
		} else {
			q.Where(session.ID(v.SessionID))
		}
		if err := q.SetRevokedAt(s.now()).Exec(ctx); err != nil {
			return err
		}
		return tx.audit(ctx, "signout", v.User.ID, detail)
	})
	if err != nil {
		return fmt.Errorf("revoke sessions of user %s: %w", v.User.ID, err)
	}
	return nil
}

// Authenticate checks an access token and returns its viewer, with the user
// and the session's second factor as stored now (the token's claims say
// nothing about the factor). The token's session must be live: not
// revoked, not expired.
// Returns UNAUTHENTICATED for any refused token, with the reason
// TOKEN_EXPIRED for one that is right in every way but its age (whatever
// its session became since: a refresh will tell), and an internal error if
// the database cannot be asked.
func (s *Service) Authenticate(ctx context.Context, token string) (*Viewer, error) {
	claims, err := s.tokens.Parse(ctx, token)
	switch {
	case errors.Is(err, auth.ErrExpired):
		return nil, errExpiredToken
	case errors.Is(err, auth.ErrInvalidToken):
		return nil, errBadAccessToken
	case err != nil:
		return nil, fmt.Errorf("check access token: %w", err)
	}
	uid, err := claims.UserID()
	if err != nil {
		return nil, errBadAccessToken
	}
	sid, err := claims.Session()
	if err != nil {
		return nil, errBadAccessToken
	}
	v, err := s.liveSessionUser(ctx, uid, sid)
	switch {
	case err != nil:
		return nil, fmt.Errorf("load user %s of session %s: %w", uid, sid, err)
	case v == nil:
		return nil, errBadAccessToken
	}
	v.unverified = s.opts.EmailVerification == "required" && v.User.EmailVerifiedAt == nil
	v.adminNeedsMFA = s.opts.RequireAdminMFA && IsAdmin(v.User.PermissionLevel) && v.MFAPassedAt == nil
	return v, nil
}

// liveSessionUserSQL selects the user, every column, and the session's
// second factor, if the session is theirs and live. It is written by
// hand, once for both dialects (SQLite reads $1, $2, $3 as parameters in
// the order they appear), because every authenticated request runs it:
// ent's query builder and scanner took four times the allocations and time
// of the statement itself.
var liveSessionUserSQL = "SELECT u." + strings.Join(user.Columns, ", u.") +
	", s." + session.FieldMfaRequired + ", s." + session.FieldMfaPassedAt +
	" FROM " + user.Table + " u JOIN " + session.Table + " s ON s." + session.FieldUserID + " = u." + user.FieldID +
	" WHERE u." + user.FieldID + " = $1 AND s." + session.FieldID + " = $2" +
	" AND s." + session.FieldRevokedAt + " IS NULL AND s." + session.FieldExpiresAt + " > $3"

// liveSessionUser loads the viewer of session sid of user uid, if it is
// theirs, neither revoked nor expired, with one statement; it returns nil
// if not. The user is complete but detached from the client: it cannot
// query its edges.
func (s *Service) liveSessionUser(ctx context.Context, uid, sid uuid.UUID) (*Viewer, error) {
	rows, err := s.client.QueryContext(ctx, liveSessionUserSQL, uid, sid, s.now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	u := &ent.User{}
	v := &Viewer{User: u, SessionID: sid}
	var passed sql.NullTime
	// In the order of user.Columns; a column added to the schema fails
	// here at once (TestAuthenticateLoadsTheStoredUser).
	err = rows.Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt, &u.FirstName, &u.LastName, &u.Email,
		&u.PasswordHash, &u.PermissionLevel, &u.CredentialVersion, &u.EmailVerifiedAt, &u.MfaEnabled,
		&v.MFARequired, &passed)
	if err != nil {
		return nil, err
	}
	if passed.Valid {
		v.MFAPassedAt = &passed.Time
	}
	return v, rows.Close()
}

// clip makes a header value storable: at most n bytes of valid UTF-8
// without NUL bytes.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}
