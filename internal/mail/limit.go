package mail

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"bitgate/ent"
	"bitgate/ent/outboxmail"
)

// lockAddressSQL takes a PostgreSQL lock on an address ($1) until the end
// of the transaction: the per-address limit's turn.
const lockAddressSQL = `SELECT pg_advisory_xact_lock(hashtextextended('bitgate mail to ' || $1, 0))`

// Allow reports whether a mail of kind k may go to the address to now,
// under the per-address limits: no mail of that kind to that address
// queued within Config.Interval, and fewer than Config.PerHour within the
// last hour, counting the mail in the outbox (sent or not). The caller
// queues the mail in tx when it may; a request that may not is answered
// as if it had been sent, so Allow's answer is never shown. On PostgreSQL
// Allow first locks the address until tx ends, so that concurrent
// transactions on every instance count one after the other; SQLite runs
// one transaction at a time. Returns an error if the database fails.
func (m *Mailer) Allow(ctx context.Context, tx *ent.Tx, to string, k Kind) (bool, error) {
	return m.allow(ctx, tx, to, k, m.cfg.Interval)
}

// allow is Allow with the least time between two mails given: 0 for
// the hourly limit alone.
func (m *Mailer) allow(ctx context.Context, tx *ent.Tx, to string, k Kind, interval time.Duration) (bool, error) {
	if m.dialect == dialect.Postgres {
		if _, err := tx.ExecContext(ctx, lockAddressSQL, to); err != nil {
			return false, fmt.Errorf("lock %s mail to an address: %w", k, err)
		}
	}
	now := m.now()
	recent, err := tx.OutboxMail.Query().
		Where(outboxmail.Recipient(to), outboxmail.Kind(string(k)), outboxmail.CreatedAtGT(now.Add(-max(time.Hour, interval)))).
		Order(ent.Desc(outboxmail.FieldCreatedAt)).
		Limit(m.cfg.PerHour).
		Select(outboxmail.FieldCreatedAt).
		All(ctx)
	if err != nil {
		return false, fmt.Errorf("count recent %s mail to an address: %w", k, err)
	}
	switch {
	case len(recent) > 0 && now.Sub(recent[0].CreatedAt) < interval:
		return false, nil
	case len(recent) >= m.cfg.PerHour && now.Sub(recent[len(recent)-1].CreatedAt) < time.Hour:
		return false, nil
	}
	return true, nil
}

// QueueNotice queues the notice msg in tx as Queue does unless its
// recipient had Config.PerHour mails of its kind within the last hour,
// and reports whether it did: the hourly limit of Allow, without its
// Config.Interval, as the changes notices tell of may follow each other
// within seconds (an email change requested, then confirmed).
func (m *Mailer) QueueNotice(ctx context.Context, tx *ent.Tx, msg Message) (bool, error) {
	e := msg.envelope()
	if ok, err := m.allow(ctx, tx, e.to, e.kind, 0); err != nil || !ok {
		return false, err
	}
	return true, m.Queue(ctx, tx, msg)
}
