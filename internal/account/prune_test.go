package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/auth"
	"bitgate/internal/apitest"
)

func TestMain(m *testing.M) { apitest.Exit(m) }

// TestPrune keeps live sessions and fresh lockout counts, and deletes
// sessions ended over a day ago, with their spent tokens, and stale counts.
func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := apitest.New(t, apitest.Options{})
	live := s.Signup(t, "live@example.com")
	old := s.Signin(t, "live@example.com", apitest.Password)
	revoked := s.Signin(t, "live@example.com", apitest.Password)
	var out struct{ Refresh apitest.Payload }
	s.Query(t, "", `mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }`,
		map[string]any{"t": revoked.RefreshToken}).Decode(t, &out) // leaves a spent token

	longAgo := time.Now().Add(-48 * time.Hour)
	sessionOf := func(p apitest.Payload) string { return authSessionID(t, p.AccessToken) }
	require.NoError(t, s.Client.Session.UpdateOneID(uuidOf(t, sessionOf(old))).SetExpiresAt(longAgo).Exec(ctx))
	require.NoError(t, s.Client.Session.UpdateOneID(uuidOf(t, sessionOf(revoked))).SetRevokedAt(longAgo).Exec(ctx))
	require.NoError(t, s.Client.Lockout.Create().SetEmail("stale@example.com").SetFailures(3).SetUpdatedAt(longAgo).Exec(ctx))
	require.NoError(t, s.Client.Lockout.Create().SetEmail("fresh@example.com").SetFailures(3).Exec(ctx))

	n, err := s.Accounts.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "two sessions and one lockout")

	ids, err := s.Client.Session.Query().IDs(ctx)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Equal(t, sessionOf(live), ids[0].String(), "the live session stays")
	spent, err := s.Client.SpentToken.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, spent, "spent tokens go with their session")
	emails, err := s.Client.Lockout.Query().Select("email").Strings(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"fresh@example.com"}, emails)
}

// authSessionID reads the sid claim of an access token.
func authSessionID(t testing.TB, token string) string {
	t.Helper()
	var c auth.Claims
	_, _, err := jwt.NewParser().ParseUnverified(token, &c)
	require.NoError(t, err)
	return c.SessionID
}

// uuidOf parses a UUID.
func uuidOf(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}
