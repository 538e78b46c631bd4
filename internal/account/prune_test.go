package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// TestPrune keeps live sessions, fresh lockout counts and sign-in attempts
// in flight, and deletes sessions ended over a day ago, with their spent
// tokens, stale counts, and attempts a crashed instance left.
func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := apitest.New(t)
	live := c.SignUp(t)
	old := c.SignIn(t, live.Email, apitest.Password)
	revoked := c.SignIn(t, live.Email, apitest.Password)
	c.Refresh(t, revoked.RefreshToken) // leaves a spent token

	longAgo := c.Clock.Now().Add(-48 * time.Hour)
	require.NoError(t, c.DB.Session.UpdateOneID(uuid.MustParse(apitest.SessionID(t, old))).SetExpiresAt(longAgo).Exec(ctx))
	require.NoError(t, c.DB.Session.UpdateOneID(uuid.MustParse(apitest.SessionID(t, revoked))).SetRevokedAt(longAgo).Exec(ctx))
	require.NoError(t, c.DB.Lockout.Create().SetEmail("stale@example.com").SetFailures(3).SetUpdatedAt(longAgo).Exec(ctx))
	require.NoError(t, c.DB.Lockout.Create().SetEmail("fresh@example.com").SetFailures(3).Exec(ctx))
	require.NoError(t, c.DB.SigninAttempt.Create().SetEmail("crashed@example.com").SetExpiresAt(longAgo).Exec(ctx))
	require.NoError(t, c.DB.SigninAttempt.Create().SetEmail("live@example.com").SetExpiresAt(c.Clock.Now().Add(time.Minute)).Exec(ctx))

	n, err := c.Accounts.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, n, "two sessions, one lockout and one sign-in attempt")

	ids, err := c.DB.Session.Query().IDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{uuid.MustParse(apitest.SessionID(t, live))}, ids, "the live session stays")
	spent, err := c.DB.SpentToken.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, spent, "spent tokens go with their session")
	emails, err := c.DB.Lockout.Query().Select("email").Strings(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"fresh@example.com"}, emails)
	emails, err = c.DB.SigninAttempt.Query().Select("email").Strings(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"live@example.com"}, emails, "the live sign-in attempt stays")
}
