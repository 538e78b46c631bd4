package keys

import (
	"context"
	"fmt"
	"time"

	"bitgate/ent"
	"bitgate/ent/secretrotation"
	"bitgate/internal/auth"
)

// HMACRotationStart returns when the HS256 secret current replaced
// previous: the moment the first instance started with that pair, which
// it records now if no instance has, so that every restart and every
// instance finds the same moment. The previous secret should verify for
// one access-token lifetime (plus auth.Leeway) from it. The secrets are
// named by their kids (auth.HMACKeyID), never stored.
func HMACRotationStart(ctx context.Context, client *ent.Client, current, previous []byte, now time.Time) (time.Time, error) {
	cur, prev := auth.HMACKeyID(current), auth.HMACKeyID(previous)
	err := client.SecretRotation.Create().
		SetCurrentKid(cur).SetPreviousKid(prev).SetStartedAt(now).
		OnConflictColumns(secretrotation.FieldCurrentKid, secretrotation.FieldPreviousKid).Ignore().
		Exec(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("record the rotation from HS256 secret %s to %s: %w", prev, cur, err)
	}
	r, err := client.SecretRotation.Query().
		Where(secretrotation.CurrentKid(cur), secretrotation.PreviousKid(prev)).
		Only(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("load the rotation from HS256 secret %s to %s: %w", prev, cur, err)
	}
	return r.StartedAt, nil
}
