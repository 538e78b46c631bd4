package keys

import (
	"context"
	"fmt"
	"time"

	"bitgate/ent/signingkey"
)

// State is where a key is in its life.
type State string

// The states of a key, in the order it goes through them.
const (
	// StatePending: published, and signing from its ActiveFrom on.
	StatePending State = "pending"
	// StateCurrent: signing new tokens.
	StateCurrent State = "current"
	// StateRetired: replaced, still verifying the tokens it signed.
	StateRetired State = "retired"
	// StateExpired: every token it signed has expired; no longer published.
	StateExpired State = "expired"
)

// Info describes a key without its private half.
type Info struct {
	ID         string // the kid
	Algorithm  string
	CreatedAt  time.Time
	ActiveFrom time.Time // when it signs from
	State      State
	// VerifiesUntil is when a replaced key stops verifying; zero for a
	// key that has not been replaced.
	VerifiesUntil time.Time
}

// List returns every stored key, oldest first, with its state now, read
// from the database rather than the cache. It returns an error if the
// database fails.
func (s *Store) List(ctx context.Context) ([]Info, error) {
	sn, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return sn.infos(s.now(), s.opts), nil
}

// infos returns the keys of sn with their states at now.
func (sn *snapshot) infos(now time.Time, opts Options) []Info {
	cur := sn.currentIndex(now)
	out := make([]Info, len(sn.keys))
	for i, k := range sn.keys {
		info := k.info
		if until := sn.verifiesUntil(i, opts); until != farFuture {
			info.VerifiesUntil = until
		}
		switch {
		case i > cur:
			info.State = StatePending
		case i == cur:
			info.State = StateCurrent
		case now.Before(info.VerifiesUntil):
			info.State = StateRetired
		default:
			info.State = StateExpired
		}
		out[i] = info
	}
	return out
}

// Rotate adds a new key that is published at once and signs from
// PublishAhead on, when the current key retires; no token stops verifying.
// It also deletes the keys that have expired. Every instance picks the new
// key up on its next reload. It returns an error if the database fails.
func (s *Store) Rotate(ctx context.Context) (Info, error) {
	now := s.now()
	info, err := s.create(ctx, now.Add(s.opts.PublishAhead))
	if err != nil {
		return Info{}, err
	}
	all, err := s.List(ctx)
	if err != nil {
		return Info{}, err
	}
	var expired []string
	for _, k := range all {
		if k.State == StateExpired {
			expired = append(expired, k.ID)
		}
	}
	if len(expired) > 0 {
		if _, err := s.client.SigningKey.Delete().Where(signingkey.IDIn(expired...)).Exec(ctx); err != nil {
			return Info{}, fmt.Errorf("delete expired signing keys: %w", err)
		}
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	_, _ = s.reloadLocked(ctx, s.snap.Load()) // a failure is logged; the next reload finds the key
	return info, nil
}
