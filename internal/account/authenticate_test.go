package account_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/apperr"
)

// TestAuthenticateLoadsTheStoredUser checks that the viewer of a token is
// the user as stored, every field of it (the query that loads it is
// written by hand, so a field added to the schema must be added there),
// and that another user's session, an unknown one and an ended one are
// refused.
func TestAuthenticateLoadsTheStoredUser(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.NewUser(t, apitest.Paid|apitest.Free)
	stored, err := c.DB.User.Get(t.Context(), uuid.MustParse(u.ID))
	require.NoError(t, err)

	v, err := c.Accounts.Authenticate(t.Context(), u.Token)
	require.NoError(t, err)
	got, want := reflect.ValueOf(*v.User), reflect.ValueOf(*stored)
	for i := range want.NumField() {
		f := want.Type().Field(i)
		if f.IsExported() && f.Name != "Edges" {
			require.Equal(t, want.Field(i).Interface(), got.Field(i).Interface(), "field %s", f.Name)
		}
	}
	require.Equal(t, apitest.SessionID(t, u), v.SessionID.String())

	f := c.Forger()
	refused := func(userID, sessionID, what string) {
		t.Helper()
		_, err := c.Accounts.Authenticate(t.Context(), f.Sign(t, f.Claims(userID, sessionID)))
		var e *apperr.Error
		require.ErrorAs(t, err, &e, what)
		require.Equal(t, apperr.Unauthenticated, e.Code, what)
	}
	other := c.SignUp(t)
	refused(u.ID, apitest.SessionID(t, other), "u with another user's session")
	refused(u.ID, uuid.NewString(), "an unknown session")
	require.True(t, apitest.Data[bool](t, c.Do(t, u.Token, apitest.OpSignOut, nil), "signout"))
	refused(u.ID, apitest.SessionID(t, u), "a revoked session")
	c.Clock.Advance(721 * time.Hour)
	refused(other.ID, apitest.SessionID(t, other), "an expired session")
}
