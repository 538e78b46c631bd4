package mail

import (
	"context"
	"time"
)

// Lease exposes how long a sender holds a claimed mail.
func (m *Mailer) Lease() time.Duration { return m.lease() }

// ClaimAndDie claims a due mail as a sender does, and never settles it: a
// sender that died mid-send. It reports whether there was one.
func (m *Mailer) ClaimAndDie(ctx context.Context) (bool, error) {
	c, err := m.claim(ctx)
	return c != nil, err
}
