package graph_test

import (
	neturl "net/url"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the system has

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// TestExpiryAcrossTimeZones writes sessions, a spent refresh token and a
// lockout on a server whose clock is in one zone, restarts it on the same
// database in a zone 19 hours away, and runs the expiry rules there:
// session expiry (the refresh TTL), the refresh reuse grace and the
// lockout's end must fall when they should, not 19 hours early or late.
// On PostgreSQL each instance's database session is in its zone too.
func TestExpiryAcrossTimeZones(t *testing.T) {
	t.Parallel()
	kiritimati, err := time.LoadLocation("Pacific/Kiritimati") // UTC+14
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York") // UTC-5 in winter, -4 in summer
	require.NoError(t, err)
	for _, tc := range []struct {
		name          string
		first, second *time.Location
	}{
		{"written at UTC+14, read at UTC-5", kiritimati, newYork},
		{"written at UTC-5, read at UTC+14", newYork, kiritimati},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := apitest.FreshDatabase(t)
			server := func(loc *time.Location, clock *apitest.Clock) *apitest.Client {
				u := url
				if database.IsPostgres(u) { // pgx sets unknown parameters on the session
					parsed, err := neturl.Parse(u)
					require.NoError(t, err)
					q := parsed.Query()
					q.Set("timezone", loc.String())
					parsed.RawQuery = q.Encode()
					u = parsed.String()
				}
				return apitest.New(t, apitest.Options{DatabaseURL: u, RefreshTTL: 10 * time.Minute, Clock: clock})
			}
			first := server(tc.first, apitest.NewClockAt(time.Now().In(tc.first)))
			live := first.SignUp(t)
			spent := first.SignIn(t, live.Email, apitest.Password)
			rotated := first.Refresh(t, spent.RefreshToken)
			locked := first.SignUp(t)
			first.FailSignIn(t, locked.Email, 5)

			clock := apitest.NewClockAt(first.Clock.Now().In(tc.second))
			second := server(tc.second, clock)

			clock.Advance(5 * time.Second) // within the 10 s reuse grace
			second.RequireRefreshRefused(t, spent.RefreshToken)
			second.Me(t, rotated.Token)
			clock.Advance(10 * time.Second) // past the grace: taken as theft
			second.RequireRefreshRefused(t, spent.RefreshToken)
			second.RequireEnded(t, rotated)

			clock.Advance(9 * time.Minute) // the session has a minute left
			second.Me(t, live.Token)
			second.RequireLocked(t, locked.Email, apitest.Password)
			clock.Advance(2 * time.Minute) // it expired a minute ago; the access token has not
			second.RequireEnded(t, live)

			clock.Advance(5 * time.Minute) // the lock ended a minute ago
			second.SignIn(t, locked.Email, apitest.Password)
		})
	}
}
