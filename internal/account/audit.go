package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/auditevent"
	"bitgate/internal/database"
)

// auditTimeout bounds storing an audit event that has no transaction of
// its own to go in.
const auditTimeout = 5 * time.Second

// event is a security event: what happened (e.g. signin.failed), to which
// user (uuid.Nil if none is known), and a short detail. It never holds a
// secret.
type event struct {
	action string
	userID uuid.UUID
	detail string
}

// txn is a transaction of the service: ent's, and the security events
// stored in it, which are logged once it commits (see withTx).
type txn struct {
	*ent.Tx
	s      *Service
	events []event
}

// audit stores the event e in t, so that it commits or rolls back with
// what it records; withTx logs it after the commit.
func (t *txn) audit(ctx context.Context, action string, userID uuid.UUID, detail string) error {
	e := event{action: action, userID: userID, detail: detail}
	if err := t.s.auditCreate(ctx, t.Client(), e).Exec(ctx); err != nil {
		return fmt.Errorf("store audit event %s: %w", action, err)
	}
	t.events = append(t.events, e)
	return nil
}

// withTx runs fn in a transaction, rolling back on error; once it has
// committed, the events fn audited are logged (see announce).
func (s *Service) withTx(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	t := &txn{Tx: tx, s: s}
	if err := fn(t); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, e := range t.events {
		s.announce(ctx, e)
	}
	return nil
}

// audit records a security event that comes with no write of its own (a
// sign-in refused before any row was touched): it stores it even if the
// client has gone, within auditTimeout, and logs it. A failure to store it
// is logged, not returned: WARN while the database is unavailable (an
// outage the server reports elsewhere), ERROR otherwise. Events that
// record a write go in its transaction instead (txn.audit).
func (s *Service) audit(ctx context.Context, action string, userID uuid.UUID, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	e := event{action: action, userID: userID, detail: detail}
	s.announce(ctx, e)
	if err := s.auditCreate(ctx, s.client, e).Exec(ctx); err != nil {
		level := slog.LevelError
		if database.IsUnavailable(err) {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "store audit event", slog.String("action", action), slog.Any("error", err))
	}
}

// auditCreate returns the insert of e through client: the request's
// client address and id, and the signed-in caller as its actor when they
// are not the user it is about.
func (s *Service) auditCreate(ctx context.Context, client *ent.Client, e event) *ent.AuditEventCreate {
	info := RequestInfoFrom(ctx)
	create := client.AuditEvent.Create().
		SetCreatedAt(s.now()).
		SetAction(e.action).
		SetClientIP(info.IP).
		SetRequestID(info.RequestID).
		SetDetail(e.detail)
	if e.userID != uuid.Nil {
		create.SetUserID(e.userID)
	}
	if v, err := ViewerFrom(ctx); err == nil && v.User.ID != e.userID {
		create.SetActorID(v.User.ID)
	}
	return create
}

// announce logs the event e at INFO, with the request's client address
// and caller, and tells Options.Events.
func (s *Service) announce(ctx context.Context, e event) {
	attrs := []slog.Attr{slog.String("client_ip", RequestInfoFrom(ctx).IP)}
	if e.userID != uuid.Nil {
		attrs = append(attrs, slog.String("user_id", e.userID.String()))
	}
	if v, err := ViewerFrom(ctx); err == nil && v.User.ID != e.userID {
		attrs = append(attrs, slog.String("actor_id", v.User.ID.String()))
	}
	if e.detail != "" {
		attrs = append(attrs, slog.String("detail", e.detail))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, e.action, attrs...)
	if s.opts.Events != nil {
		s.opts.Events(e.action)
	}
}

// auditPruneBatch is how many audit events one statement of PruneAudit
// deletes, so that a first prune of a long history does not hold a write
// lock for long.
const auditPruneBatch = 5000

// pruneAudit deletes the audit events older than the retention
// (Options.AuditRetention; 0 keeps them all), a batch at a time. Returns
// how many went.
func (s *Service) pruneAudit(ctx context.Context) (int, error) {
	if s.opts.AuditRetention <= 0 {
		return 0, nil
	}
	before := s.now().Add(-s.opts.AuditRetention)
	total := 0
	for {
		ids, err := s.client.AuditEvent.Query().
			Where(auditevent.CreatedAtLT(before)).
			Limit(auditPruneBatch).
			IDs(ctx)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := s.client.AuditEvent.Delete().Where(auditevent.IDIn(ids...)).Exec(ctx)
		total += n
		if err != nil || len(ids) < auditPruneBatch {
			return total, err
		}
	}
}
