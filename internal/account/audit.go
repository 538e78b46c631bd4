package account

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/auditevent"
)

// AuditEventsByID reads each of ids that names an audit event, with one
// statement: the event for an ADMIN, FORBIDDEN (naming ADMIN) for anyone
// else, as auditEvents answers. Ids that name no event are left out.
func (s *Service) AuditEventsByID(ctx context.Context, v *Viewer, ids []uuid.UUID) (map[uuid.UUID]Lookup[*ent.AuditEvent], error) {
	found := make(map[uuid.UUID]Lookup[*ent.AuditEvent], len(ids))
	q := s.client.AuditEvent.Query().Where(auditevent.IDIn(ids...))
	if err := v.Require(PermAdmin); err != nil {
		known, lerr := q.IDs(ctx)
		for _, id := range known {
			found[id] = Lookup[*ent.AuditEvent]{Err: err}
		}
		return found, wrapErr(lerr, "look up audit events")
	}
	events, err := q.All(ctx)
	for _, e := range events {
		found[e.ID] = Lookup[*ent.AuditEvent]{Value: e}
	}
	return found, wrapErr(err, "load audit events")
}

// auditTimeout bounds storing an audit event.
const auditTimeout = 5 * time.Second

// audit records a security event in the log and in the AuditEvent table:
// what happened, to which user (uuid.Nil if none is known), who did it if
// another signed-in user, from where, and a short detail. It must never be
// given a secret. The event is stored even if the client has gone; a
// failure to store it is logged, not returned.
func (s *Service) audit(ctx context.Context, action string, userID uuid.UUID, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	info := RequestInfoFrom(ctx)
	attrs := []slog.Attr{slog.String("client_ip", info.IP)}
	create := s.client.AuditEvent.Create().
		SetAction(action).
		SetClientIP(info.IP).
		SetRequestID(info.RequestID).
		SetDetail(detail)
	if userID != uuid.Nil {
		attrs = append(attrs, slog.String("user_id", userID.String()))
		create.SetUserID(userID)
	}
	if v, err := ViewerFrom(ctx); err == nil && v.User.ID != userID {
		attrs = append(attrs, slog.String("actor_id", v.User.ID.String()))
		create.SetActorID(v.User.ID)
	}
	if detail != "" {
		attrs = append(attrs, slog.String("detail", detail))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, action, attrs...)
	if s.opts.Events != nil {
		s.opts.Events(action)
	}
	if err := create.Exec(ctx); err != nil {
		s.log.ErrorContext(ctx, "store audit event", slog.String("action", action), slog.Any("error", err))
	}
}
