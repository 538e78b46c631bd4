package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/account"
	"bitgate/internal/apitest"
	"bitgate/internal/passkey"
	"bitgate/internal/passkey/passkeytest"
)

// Passkeys through the API, with a software authenticator on a page of
// development's default origin (passkey.DevPublicURL, relying party
// localhost). A real browser's run is internal/playground/browsercheck's.

func TestPasskeys(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)
	u := a.SignUp(t)
	auth := passkeytest.New(passkey.DevPublicURL)

	apitest.RequireCode(t, a.Do(t, u.Token, apitest.OpBeginPasskeyRegistration, apitest.Vars{"currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
	raw := apitest.Data[json.RawMessage](t, a.Do(t, u.Token, apitest.OpBeginPasskeyRegistration, apitest.Vars{"currentPassword": apitest.Password}), "beginPasskeyRegistration")
	var options struct {
		RP                     struct{ ID string }
		User                   struct{ ID, Name string }
		AuthenticatorSelection struct {
			ResidentKey      string
			UserVerification string
		}
		Attestation string
	}
	require.NoError(t, json.Unmarshal(raw, &options))
	require.Equal(t, "localhost", options.RP.ID)
	require.Equal(t, u.Email, options.User.Name)
	id := uuid.MustParse(u.ID) // the user handle: the id's 16 bytes, nothing personal
	require.Equal(t, base64.RawURLEncoding.EncodeToString(id[:]), options.User.ID)
	require.Equal(t, "required", options.AuthenticatorSelection.ResidentKey, "discoverable, for sign-in without an email")
	require.Equal(t, "required", options.AuthenticatorSelection.UserVerification)
	require.Equal(t, "none", options.Attestation)

	// Begun on A, finished on B; the answer works once.
	response := auth.Create(t, raw)
	k := apitest.Data[apitest.Passkey](t, b.Do(t, u.Token, apitest.OpFinishPasskeyRegistration, apitest.Vars{"response": response, "name": " laptop "}), "finishPasskeyRegistration")
	require.Equal(t, "laptop", k.Name)
	require.Nil(t, k.LastUsedAt)
	apitest.RequireCode(t, a.Do(t, u.Token, apitest.OpFinishPasskeyRegistration, apitest.Vars{"response": response}), "BAD_USER_INPUT", "response")
	require.Equal(t, 1, a.Audited(t, "mfa.passkey_added"))
	require.True(t, a.Me(t, u.Token).MFAEnabled)
	listed := a.MySecondFactors(t, u.Token).Passkeys
	require.Len(t, listed, 1)
	require.WithinDuration(t, k.CreatedAt, listed[0].CreatedAt, time.Millisecond) // PostgreSQL keeps microseconds
	listed[0].CreatedAt = k.CreatedAt
	require.Equal(t, k, listed[0])

	t.Run("sign in with it alone", func(t *testing.T) {
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		require.NotContains(t, string(options), "allowCredentials", "usernameless: the browser offers what it holds")
		assertion := auth.Get(t, options)
		s := apitest.Data[apitest.AuthPayload](t, b.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": assertion}), "finishPasskeySignin")
		require.False(t, s.MFARequired, "a passkey counts as both factors")
		require.Equal(t, u.ID, s.ID)
		apitest.Data[apitest.Connection[apitest.Book]](t, a.Do(t, s.Token, apitest.OpBooks, nil), "books")
		require.NotNil(t, a.MySecondFactors(t, s.Token).Passkeys[0].LastUsedAt)
		apitest.RequireCode(t, a.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": assertion}), "BAD_USER_INPUT", "response")
	})

	t.Run("as the second factor after the password", func(t *testing.T) {
		s := a.SignIn(t, u.Email, apitest.Password)
		require.True(t, s.MFARequired)
		options := apitest.Data[json.RawMessage](t, a.Do(t, s.Token, apitest.OpBeginPasskeyVerification, nil), "beginPasskeyVerification")
		require.Contains(t, string(options), base64.RawURLEncoding.EncodeToString(auth.Passkeys[0].ID), "allowCredentials")
		// Not from another session.
		other := a.SignIn(t, u.Email, apitest.Password)
		apitest.RequireCode(t, a.Do(t, other.Token, apitest.OpFinishPasskeyVerification, apitest.Vars{"response": auth.Get(t, options)}), "BAD_USER_INPUT", "response")
		options = apitest.Data[json.RawMessage](t, a.Do(t, s.Token, apitest.OpBeginPasskeyVerification, nil), "beginPasskeyVerification")
		passed := apitest.Data[apitest.AuthPayload](t, b.Do(t, s.Token, apitest.OpFinishPasskeyVerification, apitest.Vars{"response": auth.Get(t, options)}), "finishPasskeyVerification")
		require.False(t, passed.MFARequired)
		apitest.Data[apitest.Connection[apitest.Book]](t, a.Do(t, passed.Token, apitest.OpBooks, nil), "books")
	})

	t.Run("a challenge is answered once, even at once", func(t *testing.T) {
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		var begun struct{ Challenge string }
		require.NoError(t, json.Unmarshal(options, &begun))
		assertion := auth.Get(t, options)
		// On PostgreSQL all 8 find the challenge before one takes it.
		held := a.LockRow(t, "webauthn_challenges", "challenge", begun.Challenge)
		rs := held.Concurrently(t, 8, func(i int) (*apitest.Response, error) {
			return []*apitest.Client{a, b}[i%2].Post("", apitest.OpFinishPasskeySignin, apitest.Vars{"response": assertion})
		})
		require.Equal(t, map[string]int{"": 1, "BAD_USER_INPUT": 7}, apitest.CountCodes(rs))
	})

	t.Run("a challenge lives 5 minutes", func(t *testing.T) {
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		a.Clock.Advance(5*time.Minute + time.Second)
		apitest.RequireCode(t, a.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": auth.Get(t, options)}), "BAD_USER_INPUT", "response")
	})

	t.Run("another origin is refused", func(t *testing.T) {
		evil := &passkeytest.Authenticator{Origin: "http://evil.example", Passkeys: auth.Passkeys}
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		apitest.RequireCode(t, a.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": evil.Get(t, options)}), "UNAUTHENTICATED")
		options = apitest.Data[json.RawMessage](t, a.Do(t, u.Token, apitest.OpBeginPasskeyRegistration, apitest.Vars{"currentPassword": apitest.Password}), "beginPasskeyRegistration")
		apitest.RequireCode(t, a.Do(t, u.Token, apitest.OpFinishPasskeyRegistration,
			apitest.Vars{"response": passkeytest.New("http://evil.example").Create(t, options)}), "BAD_USER_INPUT", "response")
	})

	// A refusal says why in its signin.failed event.
	refusedFor := func(t *testing.T, auth *passkeytest.Authenticator, why string) {
		t.Helper()
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		apitest.RequireCode(t, a.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": auth.Get(t, options)}), "UNAUTHENTICATED")
		details := a.AuditDetails(t, "signin.failed")
		require.Contains(t, details[len(details)-1], why)
	}

	t.Run("signing in needs user verification", func(t *testing.T) {
		unverified := &passkeytest.Authenticator{Origin: auth.Origin, Passkeys: auth.Passkeys, NoUserVerification: true}
		refusedFor(t, unverified, "User verification required")
	})

	t.Run("a counter that goes back is a clone", func(t *testing.T) {
		auth.Passkeys[0].SignCount = 0
		refusedFor(t, auth, "signature counter went back")
	})

	t.Run("removing it", func(t *testing.T) {
		other := a.SignUp(t)
		apitest.RequireCode(t, a.Do(t, other.Token, apitest.OpRemovePasskey, apitest.Vars{"id": k.ID, "currentPassword": apitest.Password}), "NOT_FOUND")
		apitest.RequireCode(t, a.Do(t, u.Token, apitest.OpRemovePasskey, apitest.Vars{"id": k.ID, "currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
		require.True(t, apitest.Data[bool](t, a.Do(t, u.Token, apitest.OpRemovePasskey, apitest.Vars{"id": k.ID, "currentPassword": apitest.Password}), "removePasskey"))
		require.Equal(t, 1, a.Audited(t, "mfa.passkey_removed"))
		require.False(t, a.Me(t, u.Token).MFAEnabled)
		options := apitest.Data[json.RawMessage](t, a.Do(t, "", apitest.OpBeginPasskeySignin, nil), "beginPasskeySignin")
		apitest.RequireCode(t, a.Do(t, "", apitest.OpFinishPasskeySignin, apitest.Vars{"response": auth.Get(t, options)}), "UNAUTHENTICATED")
	})
}

func TestPasskeysOff(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Production: true}) // no WEBAUTHN_RP_ID, no PUBLIC_URL
	apitest.RequireCode(t, c.Do(t, "", apitest.OpBeginPasskeySignin, nil), "FORBIDDEN")
}

// TestPasskeysPerUserAreCapped: a user has at most account.MaxPasskeys
// (20); one more is CONFLICT, and stores nothing.
func TestPasskeysPerUserAreCapped(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	for range account.MaxPasskeys { // an authenticator each, as each holds one passkey of a user
		c.RegisterPasskey(t, u, passkeytest.New(passkey.DevPublicURL))
	}
	options := apitest.Data[json.RawMessage](t, c.Do(t, u.Token, apitest.OpBeginPasskeyRegistration,
		apitest.Vars{"currentPassword": apitest.Password}), "beginPasskeyRegistration")
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpFinishPasskeyRegistration,
		apitest.Vars{"response": passkeytest.New(passkey.DevPublicURL).Create(t, options)}), "CONFLICT")
	require.Len(t, c.MySecondFactors(t, u.Token).Passkeys, account.MaxPasskeys)
}
