package account

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/predicate"
	"bitgate/ent/session"
	"bitgate/internal/apperr"
)

// Sessions returns the live sessions (neither revoked nor expired) of the
// viewer's user, most recently used first.
func (s *Service) Sessions(ctx context.Context, v *Viewer) ([]*ent.Session, error) {
	return s.liveSessions(ctx, v.User.ID)
}

// UserSessions returns the live sessions of user u, most recently used
// first: the viewer's own, or anyone's for an ADMIN. They are those u was
// loaded with (WithLiveSessions), or else read now. Returns FORBIDDEN for
// anyone else's.
func (s *Service) UserSessions(ctx context.Context, v *Viewer, u *ent.User) ([]*ent.Session, error) {
	if u.ID != v.User.ID && !v.IsAdmin() {
		return nil, v.notAdmin(apperr.ErrForbidden)
	}
	if loaded, err := u.Edges.SessionsOrErr(); err == nil {
		list := slices.Clone(loaded) // u may be answered for under several aliases at once
		sortByLastUse(list)
		return list, nil
	}
	return s.liveSessions(ctx, u.ID)
}

// WithLiveSessions makes q load the live sessions of the users it returns,
// in one statement for all of them, if the viewer may see them all (an
// ADMIN); UserSessions then answers from those.
func (s *Service) WithLiveSessions(v *Viewer, q *ent.UserQuery) *ent.UserQuery {
	if !v.IsAdmin() {
		return q
	}
	return q.WithSessions(func(q *ent.SessionQuery) { q.Where(s.live()...) })
}

// live selects the sessions neither revoked nor expired.
func (s *Service) live() []predicate.Session {
	return []predicate.Session{session.RevokedAtIsNil(), session.ExpiresAtGT(s.now())}
}

// liveSessions returns the live sessions of a user, most recently used
// first.
func (s *Service) liveSessions(ctx context.Context, userID uuid.UUID) ([]*ent.Session, error) {
	list, err := s.client.Session.Query().Where(session.UserID(userID)).Where(s.live()...).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %s: %w", userID, err)
	}
	sortByLastUse(list)
	return list, nil
}

// sortByLastUse sorts sessions most recently used first (see LastUsed),
// the greatest id first among equals. It sorts here, not in SQL: a user
// has few live sessions, and no index gives them in that order (the
// databases also put null last_used_at values first or last as their
// dialect has it).
func sortByLastUse(list []*ent.Session) {
	slices.SortFunc(list, func(a, b *ent.Session) int {
		if c := LastUsed(b).Compare(LastUsed(a)); c != 0 {
			return c
		}
		return strings.Compare(b.ID.String(), a.ID.String())
	})
}

// LastUsed returns when sess was last signed in or refreshed: its
// last_used_at, or its creation for a session older than that column.
func LastUsed(sess *ent.Session) time.Time {
	if sess.LastUsedAt != nil {
		return *sess.LastUsedAt
	}
	return sess.CreatedAt
}

// IsCurrent reports whether sess is the one the viewer's access token
// belongs to.
func (v *Viewer) IsCurrent(sess *ent.Session) bool { return sess.ID == v.SessionID }

// RevokeSession ends the live session id, so that its access and refresh
// tokens stop working at once: one of the viewer's own, or anyone's for an
// ADMIN. Ending the viewer's current session is Signout. Each revocation is
// audited as session.revoked. Returns NOT_FOUND alike for someone else's
// session and for a missing, revoked or expired one.
func (s *Service) RevokeSession(ctx context.Context, v *Viewer, id uuid.UUID) error {
	if id == v.SessionID {
		return s.Signout(ctx, v, false)
	}
	now := s.now()
	err := s.withTx(ctx, func(tx *txn) error {
		q := tx.Session.UpdateOneID(id).Where(session.RevokedAtIsNil(), session.ExpiresAtGT(now))
		if !v.IsAdmin() {
			q.Where(session.UserID(v.User.ID))
		}
		sess, err := q.SetRevokedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		return tx.audit(ctx, "session.revoked", sess.UserID, "session "+sess.ID.String())
	})
	switch {
	case ent.IsNotFound(err):
		return apperr.ErrNotFound
	case err != nil:
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	return nil
}
