package account

import (
	"context"
	"log/slog"

	"github.com/google/uuid"
)

// audit records a security event in the log and in the AuditEvent table:
// what happened, to which user (uuid.Nil if none is known), who did it if
// another signed-in user, from where, and a short detail. It must never be
// given a secret. A failure to store the event is logged, not returned.
func (s *Service) audit(ctx context.Context, action string, userID uuid.UUID, detail string) {
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
