package graph_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/app"
	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
	"bitgate/internal/passkey"
	"bitgate/internal/passkey/passkeytest"
	"bitgate/internal/totp"
)

// Second factors: TOTP with recovery codes (passkeys are in
// passkeys_test.go). A user with a second factor gets sessions that wait
// for it from signin; until verifySecondFactor passes it, every field that
// needs a caller but me and signout answers FORBIDDEN with the reason
// MFA_REQUIRED, read from the stored session on every request.

func TestTOTP(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	require.False(t, u.MFARequired)
	require.False(t, u.MFAEnabled)

	e := apitest.Data[apitest.TotpEnrollment](t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password}), "enrollTotp")
	uri, err := url.Parse(e.URI)
	require.NoError(t, err)
	require.Equal(t, "otpauth", uri.Scheme)
	require.Equal(t, "totp", uri.Host)
	require.Equal(t, e.Secret, uri.Query().Get("secret"))
	require.Contains(t, uri.Path, u.Email)
	require.True(t, strings.HasPrefix(e.QRCodeSVG, "<svg "), "qrCodeSvg: %.60s", e.QRCodeSVG)

	t.Run("enrolling needs the password", func(t *testing.T) {
		apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": ""}), "BAD_USER_INPUT", "currentPassword")
		apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
	})

	// Not active until confirmed: a sign-in needs no code yet.
	require.False(t, c.SignIn(t, u.Email, apitest.Password).MFARequired, "an enrolled secret is not active")
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpConfirmTotp, apitest.Vars{"code": "000000"}), "BAD_USER_INPUT", "code")
	codes := apitest.Data[[]string](t, c.Do(t, u.Token, apitest.OpConfirmTotp, apitest.Vars{"code": c.TOTPCode(t, e.Secret)}), "confirmTotp")
	require.Len(t, codes, 10)
	for _, code := range codes {
		require.Regexp(t, `^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`, code, "80 random bits")
	}
	require.Equal(t, 1, c.Audited(t, "mfa.totp_enabled"))
	require.True(t, c.Me(t, u.Token).MFAEnabled)
	stored, err := c.DB.Totp.Query().Only(context.Background())
	require.NoError(t, err)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	require.NoError(t, err)
	require.False(t, bytes.Contains(stored.Secret, key) || bytes.Contains(stored.Secret, []byte(e.Secret)), "the secret is stored unsealed")
	require.Equal(t, apitest.SecondFactors{TOTP: true, RecoveryCodesLeft: 10, Passkeys: []apitest.Passkey{}}, c.MySecondFactors(t, u.Token))
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password}), "CONFLICT")

	// The session that confirmed it goes on; a new sign-in waits.
	c.Sessions(t, u.Token)
	pending := c.SignIn(t, u.Email, apitest.Password)
	require.True(t, pending.MFARequired)
	require.True(t, pending.MFAEnabled)
	require.Equal(t, 0, authtest.ClaimsOf(t, pending.Token).Perm, "a waiting session's token grants nothing")
	require.Equal(t, u.ID, c.Me(t, pending.Token).ID, "me answers while waiting")
	apitest.RequireMFARequired(t, c.Do(t, pending.Token, apitest.OpBooks, nil))

	passed := c.VerifySecondFactor(t, pending.Token, c.NextTOTPCode(t, e.Secret))
	require.Equal(t, apitest.Free, authtest.ClaimsOf(t, passed.Token).Perm)
	require.Equal(t, apitest.SessionID(t, pending), apitest.SessionID(t, passed), "the same session")
	apitest.Data[apitest.Connection[apitest.Book]](t, c.Do(t, passed.Token, apitest.OpBooks, nil), "books")
	apitest.Data[apitest.Connection[apitest.Book]](t, c.Do(t, pending.Token, apitest.OpBooks, nil), "books") // read from the session, not the token
	require.Equal(t, 1, c.Audited(t, "mfa.verified"))

	t.Run("one step of skew either way, not two", func(t *testing.T) {
		c.Clock.Advance(2 * totp.Period) // the step before is after the last accepted
		now := totp.Step(c.Clock.Now())
		for _, tc := range []struct {
			step int64
			ok   bool
		}{{now - 2, false}, {now + 2, false}, {now - 1, true}, {now + 1, true}} {
			s := c.SignIn(t, u.Email, apitest.Password)
			code, err := totp.Code(e.Secret, tc.step)
			require.NoError(t, err)
			r := c.Do(t, s.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": code})
			if tc.ok {
				require.Empty(t, r.Errors, "a code %d steps off: %s", tc.step-now, r.Body)
			} else {
				apitest.RequireCode(t, r, "BAD_USER_INPUT", "code")
			}
		}
	})
}

// TestTOTPReplay: a code is accepted once (the step of the last accepted
// code is stored), in any session, on any instance, even at once.
func TestTOTPReplay(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)
	u := a.SignUp(t)
	secret := a.EnableTOTP(t, u).Secret

	code := a.NextTOTPCode(t, secret)
	first, second := a.SignIn(t, u.Email, apitest.Password), a.SignIn(t, u.Email, apitest.Password)
	a.VerifySecondFactor(t, first.Token, code)
	apitest.RequireCode(t, b.Do(t, second.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": code}), "BAD_USER_INPUT", "code")
	// An older code still within the skew is refused too: steps only go up.
	older, err := totp.Code(secret, totp.Step(a.Clock.Now())-1)
	require.NoError(t, err)
	apitest.RequireCode(t, b.Do(t, second.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": older}), "BAD_USER_INPUT", "code")

	// Eight sessions send one fresh code at once over two instances: one wins.
	code = a.NextTOTPCode(t, secret)
	sessions := make([]apitest.AuthPayload, 8)
	for i := range sessions {
		sessions[i] = a.SignIn(t, u.Email, apitest.Password)
	}
	rs := apitest.Concurrently(t, len(sessions), func(i int) (*apitest.Response, error) {
		return []*apitest.Client{a, b}[i%2].Post(sessions[i].Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": code})
	})
	won := 0
	for _, r := range rs {
		if len(r.Errors) == 0 {
			won++
		} else {
			require.Contains(t, []string{"BAD_USER_INPUT", "RATE_LIMITED"}, r.Code(), "%s", r.Body)
		}
	}
	require.Equal(t, 1, won, "one code passed more than one session")
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	tp := c.EnableTOTP(t, u)

	// A recovery code works once, typed in any case with or without dashes.
	typed := strings.ToUpper(strings.ReplaceAll(tp.RecoveryCodes[0], "-", " "))
	s := c.VerifySecondFactor(t, c.SignIn(t, u.Email, apitest.Password).Token, typed)
	require.Equal(t, 9, c.MySecondFactors(t, s.Token).RecoveryCodesLeft)
	require.Equal(t, 1, c.Audited(t, "mfa.recovery_code_used"))
	apitest.RequireCode(t, c.Do(t, c.SignIn(t, u.Email, apitest.Password).Token, apitest.OpVerifySecondFactor,
		apitest.Vars{"code": tp.RecoveryCodes[0]}), "BAD_USER_INPUT", "code")

	// Only the owner's codes work.
	other := c.SignUp(t)
	c.EnableTOTP(t, other)
	apitest.RequireCode(t, c.Do(t, c.SignIn(t, other.Email, apitest.Password).Token, apitest.OpVerifySecondFactor,
		apitest.Vars{"code": tp.RecoveryCodes[1]}), "BAD_USER_INPUT", "code")

	// New codes replace the old ones.
	apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpRegenerateRecoveryCodes, apitest.Vars{"currentPassword": apitest.WrongPassword}), "UNAUTHENTICATED")
	fresh := apitest.Data[[]string](t, c.Do(t, s.Token, apitest.OpRegenerateRecoveryCodes, apitest.Vars{"currentPassword": apitest.Password}), "regenerateRecoveryCodes")
	require.Len(t, fresh, 10)
	require.NotContains(t, fresh, tp.RecoveryCodes[2])
	apitest.RequireCode(t, c.Do(t, c.SignIn(t, u.Email, apitest.Password).Token, apitest.OpVerifySecondFactor,
		apitest.Vars{"code": tp.RecoveryCodes[2]}), "BAD_USER_INPUT", "code")
	c.VerifySecondFactor(t, c.SignIn(t, u.Email, apitest.Password).Token, fresh[0])

	// Only hashes are stored: SHA-256 in hex, holding no code in either form.
	rows, err := c.DB.RecoveryCode.Query().All(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 9+10, "the user's codes left and the other user's")
	for _, row := range rows {
		require.Regexp(t, `^[0-9a-f]{64}$`, row.Hash)
		for _, code := range append(fresh, tp.RecoveryCodes...) {
			require.NotContains(t, row.Hash, code)
			require.NotContains(t, row.Hash, strings.ReplaceAll(code, "-", ""))
		}
	}
}

func TestDisableTotp(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	tp := c.EnableTOTP(t, u)
	s := c.SignInWithTOTP(t, u.Email, tp.Secret)

	code := c.NextTOTPCode(t, tp.Secret)
	apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.WrongPassword, "code": code}), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": "000000"}), "BAD_USER_INPUT", "code")
	require.True(t, c.Me(t, s.Token).MFAEnabled, "a refused disableTotp changed something")
	require.True(t, apitest.Data[bool](t, c.Do(t, s.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": code}), "disableTotp"))
	require.Equal(t, 1, c.Audited(t, "mfa.totp_disabled"))
	require.Equal(t, apitest.SecondFactors{Passkeys: []apitest.Passkey{}}, c.MySecondFactors(t, s.Token))
	require.False(t, c.SignIn(t, u.Email, apitest.Password).MFARequired)
	apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpRegenerateRecoveryCodes, apitest.Vars{"currentPassword": apitest.Password}), "NOT_FOUND")
	apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": code}), "NOT_FOUND")

	t.Run("removing the last factor ends the sessions waiting for one", func(t *testing.T) {
		tp := c.EnableTOTP(t, s)
		waiting := c.SignIn(t, u.Email, apitest.Password)
		require.True(t, waiting.MFARequired)
		apitest.Data[bool](t, c.Do(t, s.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": tp.RecoveryCodes[0]}), "disableTotp")
		c.RequireEnded(t, waiting)
		c.Me(t, s.Token)
	})
}

// TestFactorChangesTakeTurns: changes to one user's second factors take
// turns (each locks the user row first), so that users.mfa_enabled, which
// decides whether a sign-in waits for a factor, always says what the user
// has. The test holds the user row on PostgreSQL and lines the requests
// up behind it, in the order that went wrong.
func TestFactorChangesTakeTurns(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)

	t.Run("a passkey added while TOTP is turned off", func(t *testing.T) {
		u := c.SignUp(t)
		secret := c.EnableTOTP(t, u).Secret
		options := apitest.Data[json.RawMessage](t, c.Do(t, u.Token, apitest.OpBeginPasskeyRegistration,
			apitest.Vars{"currentPassword": apitest.Password}), "beginPasskeyRegistration")
		response := passkeytest.New(passkey.DevPublicURL).Create(t, options)
		code := c.NextTOTPCode(t, secret)
		rs := c.LockRow(t, "users", "id", u.ID).InTurn(t,
			func() (*apitest.Response, error) {
				return c.Post(u.Token, apitest.OpFinishPasskeyRegistration, apitest.Vars{"response": response})
			},
			func() (*apitest.Response, error) {
				return c.Post(u.Token, apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": code})
			})
		for _, r := range rs {
			require.Empty(t, r.Errors, "%s", r.Body)
		}
		require.Len(t, c.MySecondFactors(t, u.Token).Passkeys, 1)
		require.True(t, c.Me(t, u.Token).MFAEnabled, "a passkey is stored, and mfaEnabled is false")
		require.True(t, c.SignIn(t, u.Email, apitest.Password).MFARequired, "a user with a passkey signs in without it")
	})

	t.Run("enrolling again while TOTP is confirmed", func(t *testing.T) {
		u := c.SignUp(t)
		e := apitest.Data[apitest.TotpEnrollment](t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password}), "enrollTotp")
		code := c.TOTPCode(t, e.Secret)
		rs := c.LockRow(t, "users", "id", u.ID).InTurn(t,
			func() (*apitest.Response, error) {
				return c.Post(u.Token, apitest.OpConfirmTotp, apitest.Vars{"code": code})
			},
			func() (*apitest.Response, error) {
				return c.Post(u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password})
			})
		require.Empty(t, rs[0].Errors, "confirmTotp: %s", rs[0].Body)
		apitest.RequireCode(t, rs[1], "CONFLICT")
		require.True(t, c.MySecondFactors(t, u.Token).TOTP, "the confirmed secret went")
		c.SignInWithTOTP(t, u.Email, e.Secret)
	})
}

// TestRefreshKeepsTheFactor: refreshing a waiting session keeps it
// waiting; passing the factor rotates the refresh token.
func TestRefreshKeepsTheFactor(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{ReuseGrace: time.Second})
	u := c.SignUp(t)
	secret := c.EnableTOTP(t, u).Secret

	pending := c.SignIn(t, u.Email, apitest.Password)
	refreshed := c.Refresh(t, pending.RefreshToken)
	require.True(t, refreshed.MFARequired, "refresh passed the factor")
	require.Zero(t, authtest.ClaimsOf(t, refreshed.Token).Perm)
	apitest.RequireMFARequired(t, c.Do(t, refreshed.Token, apitest.OpSessions, nil))

	passed := c.VerifySecondFactor(t, refreshed.Token, c.NextTOTPCode(t, secret))
	require.NotEqual(t, refreshed.RefreshToken, passed.RefreshToken, "verifySecondFactor rotates the refresh token")
	c.RequireRefreshRefused(t, refreshed.RefreshToken)
	again := c.Refresh(t, passed.RefreshToken)
	require.False(t, again.MFARequired, "refresh lost the factor")
	c.Sessions(t, again.Token)

	// The spent pre-factor refresh token presented after the grace is theft.
	c.Clock.Advance(2 * time.Second)
	c.RequireRefreshRefused(t, refreshed.RefreshToken)
	c.RequireEnded(t, again)
}

// TestVerifyRacingRefresh: verifySecondFactor rotates the refresh token
// only if it is still the one it read, as refresh does; when a refresh of
// the session commits in between (the test lines them up behind the
// session row on PostgreSQL), it answers UNAUTHENTICATED and spends
// nothing, and the pair that refresh answered goes on.
func TestVerifyRacingRefresh(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	secret := c.EnableTOTP(t, u).Secret
	pending := c.SignIn(t, u.Email, apitest.Password)
	code := c.NextTOTPCode(t, secret)
	rs := c.LockRow(t, "sessions", "id", apitest.SessionID(t, pending)).InTurn(t,
		func() (*apitest.Response, error) {
			return c.Post("", apitest.OpRefresh, apitest.Vars{"refreshToken": pending.RefreshToken})
		},
		func() (*apitest.Response, error) {
			return c.Post(pending.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": code})
		})
	refreshed := apitest.Data[apitest.AuthPayload](t, rs[0], "refresh")
	latest := refreshed
	if rs[1].Code() == "" { // SQLite ran it after the refresh had committed
		latest = apitest.Data[apitest.AuthPayload](t, rs[1], "verifySecondFactor")
	} else {
		apitest.RequireCode(t, rs[1], "UNAUTHENTICATED")
		require.True(t, refreshed.MFARequired)
		latest = c.VerifySecondFactor(t, refreshed.Token, code) // the code was not spent
	}
	c.Sessions(t, c.Refresh(t, latest.RefreshToken).Token)
}

// TestSecondFactorGate runs every root field of the schema with the token
// of a session that waits for its second factor: each that needs a caller
// answers FORBIDDEN with the reason MFA_REQUIRED (before any other check:
// createBook says MFA_REQUIRED to a FREE user, not that ADMIN is needed),
// but me, signout, verifySecondFactor and the passkey verification. A new
// root field fails this test until it is listed.
func TestSecondFactorGate(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	u := c.SignUp(t)
	c.EnableTOTP(t, u)
	s := c.SignIn(t, u.Email, apitest.Password)
	require.True(t, s.MFARequired)
	book := c.StoreBook(t, "Gated").ID.String()
	note := c.StoreNote(t, u.ID).ID.String()
	id := apitest.Vars{"id": u.ID}

	type call struct {
		op   string
		vars apitest.Vars
	}
	gated := map[string]call{
		"user":                      {apitest.OpUser, id},
		"users":                     {apitest.OpUsers, nil},
		"books":                     {apitest.OpBooks, nil},
		"notes":                     {apitest.OpNotes, nil},
		"note":                      {apitest.OpNote, apitest.Vars{"id": note}},
		"sessions":                  {apitest.OpSessions, nil},
		"node":                      {apitest.OpNode, id},
		"nodes":                     {apitest.OpNodes, apitest.Vars{"ids": []string{u.ID, note}}},
		"auditEvents":               {apitest.OpAuditEvents, nil},
		"revokeSession":             {apitest.OpRevokeSession, apitest.Vars{"id": apitest.SessionID(t, u)}},
		"requestEmailVerification":  {apitest.OpRequestEmailVerification, nil},
		"requestEmailChange":        {apitest.OpRequestEmailChange, apitest.Vars{"email": apitest.Email(), "password": apitest.Password}},
		"enrollTotp":                {apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password}},
		"confirmTotp":               {apitest.OpConfirmTotp, apitest.Vars{"code": "123456"}},
		"disableTotp":               {apitest.OpDisableTotp, apitest.Vars{"currentPassword": apitest.Password, "code": "123456"}},
		"regenerateRecoveryCodes":   {apitest.OpRegenerateRecoveryCodes, apitest.Vars{"currentPassword": apitest.Password}},
		"beginPasskeyRegistration":  {apitest.OpBeginPasskeyRegistration, apitest.Vars{"currentPassword": apitest.Password}},
		"finishPasskeyRegistration": {apitest.OpFinishPasskeyRegistration, apitest.Vars{"response": map[string]any{}}},
		"removePasskey":             {apitest.OpRemovePasskey, apitest.Vars{"id": uuid.NewString(), "currentPassword": apitest.Password}},
		"removeSecondFactors":       {apitest.OpRemoveSecondFactors, apitest.Vars{"userId": uuid.NewString()}},
		"createUser":                {apitest.OpCreateUser, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())}},
		"updateUser":                {apitest.OpUpdateUser, apitest.Vars{"id": u.ID, "in": apitest.Vars{"firstName": "Eve"}}},
		"deleteUser":                {apitest.OpDeleteUser, id},
		"createBook":                {apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "T", "author": "A"}}},
		"updateBook":                {apitest.OpUpdateBook, apitest.Vars{"id": book, "in": apitest.Vars{"title": "T"}}},
		"deleteBook":                {apitest.OpDeleteBook, apitest.Vars{"id": book}},
		"createNote":                {apitest.OpCreateNote, apitest.Vars{"in": apitest.Vars{"title": "T", "content": "C"}}},
		"updateNote":                {apitest.OpUpdateNote, apitest.Vars{"id": note, "in": apitest.Vars{"title": "T"}}},
		"deleteNote":                {apitest.OpDeleteNote, apitest.Vars{"id": note}},
	}
	// Fields that need no caller, and those a waiting session may call.
	open := []string{"book", "signup", "signin", "refresh", "beginPasskeySignin", "finishPasskeySignin",
		"verifyEmail", "requestPasswordReset", "resetPassword", "confirmEmailChange"}
	exempt := []string{"me", "signout", "verifySecondFactor", "beginPasskeyVerification", "finishPasskeyVerification"}

	type root struct {
		Fields []struct{ Name string } `json:"fields"`
	}
	schema := apitest.Data[struct {
		Query    root `json:"queryType"`
		Mutation root `json:"mutationType"`
	}](t, c.Do(t, "", `{ __schema { queryType { fields { name } } mutationType { fields { name } } } }`, nil), "__schema")
	for _, f := range append(schema.Query.Fields, schema.Mutation.Fields...) {
		_, isGated := gated[f.Name]
		require.True(t, isGated || slices.Contains(open, f.Name) || slices.Contains(exempt, f.Name),
			"root field %s is not in TestSecondFactorGate: is it gated?", f.Name)
	}

	for name, call := range gated {
		t.Run(name, func(t *testing.T) {
			apitest.RequireMFARequired(t, c.Do(t, s.Token, call.op, call.vars))
		})
	}
	t.Run("fields of me that need the caller", func(t *testing.T) {
		for _, op := range []string{`{ me { id sessions { id } } }`, `{ me { id secondFactors { totp } } }`} {
			r := c.Do(t, s.Token, op, nil)
			apitest.RequireMFARequired(t, r)
			require.Equal(t, "me", r.Errors[0].Path[0])
		}
	})
	t.Run("a forged token claiming more is worth nothing", func(t *testing.T) {
		f := c.Forger()
		forged := f.Sign(t, authtest.With(f.Claims(u.ID, apitest.SessionID(t, s)), func(cl *auth.Claims) { cl.Perm = apitest.Admin }))
		apitest.RequireMFARequired(t, c.Do(t, forged, apitest.OpBooks, nil))
		apitest.RequireMFARequired(t, c.Do(t, forged, apitest.OpCreateBook, apitest.Vars{"in": apitest.Vars{"title": "T", "author": "A"}}))
	})
	t.Run("exempt", func(t *testing.T) {
		require.Equal(t, u.ID, c.Me(t, s.Token).ID)
		apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": ""}), "BAD_USER_INPUT", "code")
		apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpBeginPasskeyVerification, nil), "NOT_FOUND")
		apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpFinishPasskeyVerification, apitest.Vars{"response": map[string]any{}}), "BAD_USER_INPUT", "response")
		apitest.Data[apitest.Book](t, c.Do(t, s.Token, apitest.OpBook, apitest.Vars{"id": book}), "book")
		// A password thief must not sign the user out everywhere: a
		// waiting session may end itself only.
		apitest.RequireMFARequired(t, c.Do(t, s.Token, apitest.OpSignOut, apitest.Vars{"all": true}))
		c.Sessions(t, u.Token)
		require.True(t, apitest.Data[bool](t, c.Do(t, s.Token, apitest.OpSignOut, apitest.Vars{"all": false}), "signout"))
		c.RequireEnded(t, s)
		c.Sessions(t, u.Token)
	})
	t.Run("nothing changed", func(t *testing.T) {
		b, err := c.DB.Book.Get(context.Background(), uuid.MustParse(book))
		require.NoError(t, err)
		require.Equal(t, "Gated", b.Title)
		require.Equal(t, "Test", c.Me(t, u.Token).FirstName)
	})
}

// TestSecondFactorGateAcrossInstances: the factor is read from the stored
// session and user on every request, on every instance.
func TestSecondFactorGateAcrossInstances(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)
	u := a.SignUp(t)
	secret := a.EnableTOTP(t, u).Secret

	// A waiting session is gated on B; passing on A opens it on B at once.
	s := a.SignIn(t, u.Email, apitest.Password)
	apitest.RequireMFARequired(t, b.Do(t, s.Token, apitest.OpBooks, nil))
	a.VerifySecondFactor(t, s.Token, a.NextTOTPCode(t, secret))
	apitest.Data[apitest.Connection[apitest.Book]](t, b.Do(t, s.Token, apitest.OpBooks, nil), "books")

	// Disable TOTP on B: a new sign-in on A needs nothing.
	require.True(t, apitest.Data[bool](t, b.Do(t, s.Token, apitest.OpDisableTotp,
		apitest.Vars{"currentPassword": apitest.Password, "code": a.NextTOTPCode(t, secret)}), "disableTotp"))
	require.False(t, a.SignIn(t, u.Email, apitest.Password).MFARequired, "gated after TOTP was disabled on the other instance")

	// Enroll on A: a new sign-in on B waits.
	a.EnableTOTP(t, s)
	on := b.SignIn(t, u.Email, apitest.Password)
	require.True(t, on.MFARequired, "not gated after TOTP was enabled on the other instance")
	apitest.RequireMFARequired(t, b.Do(t, on.Token, apitest.OpBooks, nil))
}

// TestFirstFactorGatesOpenSessions: a session opened before the user had
// a second factor waits for it once they set one up, on every instance,
// so that a thief who signed in with the password before cannot add or
// remove a factor with the password alone; the session that set it up,
// and one that passed a factor before, go on.
func TestFirstFactorGatesOpenSessions(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := a.NewInstance(t)
	password := apitest.Vars{"currentPassword": apitest.Password}

	t.Run("TOTP", func(t *testing.T) {
		u := a.SignUp(t)
		thief := a.SignIn(t, u.Email, apitest.Password)
		secret := a.EnableTOTP(t, u).Secret
		apitest.RequireMFARequired(t, b.Do(t, thief.Token, apitest.OpBeginPasskeyRegistration, password))
		apitest.RequireMFARequired(t, b.Do(t, thief.Token, apitest.OpDisableTotp,
			apitest.Vars{"currentPassword": apitest.Password, "code": "000000"}))
		refreshed := b.Refresh(t, thief.RefreshToken)
		require.True(t, refreshed.MFARequired, "refresh of a gated session")
		require.Zero(t, authtest.ClaimsOf(t, refreshed.Token).Perm)
		b.Sessions(t, u.Token) // the session that set it up passed it

		// One that passed a factor before keeps it when a new first one comes.
		passed := a.SignInWithTOTP(t, u.Email, secret)
		apitest.Data[bool](t, a.Do(t, passed.Token, apitest.OpDisableTotp,
			apitest.Vars{"currentPassword": apitest.Password, "code": a.NextTOTPCode(t, secret)}), "disableTotp")
		a.EnableTOTP(t, u)
		b.Sessions(t, passed.Token)
	})

	t.Run("a passkey", func(t *testing.T) {
		u := a.SignUp(t)
		thief := a.SignIn(t, u.Email, apitest.Password)
		k := b.RegisterPasskey(t, u, passkeytest.New(passkey.DevPublicURL))
		apitest.RequireMFARequired(t, a.Do(t, thief.Token, apitest.OpRemovePasskey,
			apitest.Vars{"id": k.ID, "currentPassword": apitest.Password}))
		apitest.RequireMFARequired(t, a.Do(t, thief.Token, apitest.OpBooks, nil))
		a.Sessions(t, u.Token)
		require.Len(t, a.MySecondFactors(t, u.Token).Passkeys, 1)
	})
}

// TestGuessingSecondFactors is the guess count (cf. CVE-2025-64102, a
// second factor without a limit on guesses): a password thief opens as
// many sessions as they like and guesses codes in all of them, one at a
// time and all at once. Wrong codes count toward the email's lockout with
// wrong passwords, and a sign-in with the password does not reset the
// count while the user has a second factor, so the server checks 5 guesses
// per 15 minutes whatever the number of sessions; and the fifth wrong code
// of one session ends it.
func TestGuessingSecondFactors(t *testing.T) {
	t.Parallel()

	t.Run("across sessions, one at a time", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		u := c.SignUp(t)
		c.EnableTOTP(t, u)
		// The thief signs in again before every guess: a new session, and
		// a sign-in that would reset a count it was allowed to reset.
		var sessions []apitest.AuthPayload
		checked := 0
		for round := range 15 {
			if r := c.Do(t, "", apitest.OpSignIn, apitest.Credentials(u.Email, apitest.Password)); len(r.Errors) == 0 {
				sessions = append(sessions, apitest.Data[apitest.AuthPayload](t, r, "signin"))
			}
			s := sessions[len(sessions)-1]
			r := c.Do(t, s.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"})
			switch r.Code() {
			case "BAD_USER_INPUT":
				checked++
			case "RATE_LIMITED":
			default:
				t.Fatalf("guess %d: %s", round, r.Body)
			}
		}
		require.Equal(t, 5, checked, "guesses checked within 15 minutes")
		require.Equal(t, 5, c.Audited(t, "mfa.failed"))
		require.Equal(t, 1, c.Audited(t, "signin.locked"))
		c.RequireLocked(t, u.Email, apitest.Password) // no new sessions either
		t.Logf("a password thief with %d sessions got %d guesses checked in 15 minutes", len(sessions), checked)

		c.Clock.Advance(15*time.Minute + time.Second)
		fresh := c.SignIn(t, u.Email, apitest.Password)
		require.True(t, fresh.MFARequired)
		for range 10 {
			c.Do(t, fresh.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"})
		}
		require.Equal(t, 10, c.Audited(t, "mfa.failed"), "5 more guesses checked in the next 15 minutes")
		c.RequireEnded(t, fresh) // its fifth wrong code ended it
	})

	t.Run("across sessions and instances, all at once", func(t *testing.T) {
		t.Parallel()
		a := apitest.New(t)
		b := a.NewInstance(t)
		u := a.SignUp(t)
		a.EnableTOTP(t, u)
		sessions := make([]apitest.AuthPayload, 6)
		for i := range sessions {
			sessions[i] = a.SignIn(t, u.Email, apitest.Password)
		}
		rs := apitest.Concurrently(t, 30, func(i int) (*apitest.Response, error) {
			return []*apitest.Client{a, b}[i%2].Post(sessions[i%len(sessions)].Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"})
		})
		checked := 0
		for _, r := range rs {
			switch r.Code() {
			case "BAD_USER_INPUT", "UNAUTHENTICATED":
				checked++
			default:
				require.Equal(t, "RATE_LIMITED", r.Code(), "%s", r.Body)
			}
		}
		require.Equal(t, 5, a.Audited(t, "mfa.failed"), "codes checked")
		require.LessOrEqual(t, checked, 5)
		t.Logf("30 guesses at once from %d sessions on 2 instances: %d checked", len(sessions), checked)
	})

	t.Run("five wrong codes end one session", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		u := c.SignUp(t)
		secret := c.EnableTOTP(t, u).Secret
		thief := c.SignIn(t, u.Email, apitest.Password)
		for range 3 {
			apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"}), "BAD_USER_INPUT", "code")
		}
		// The user signs in meanwhile: passing the factor resets the email's count...
		c.SignInWithTOTP(t, u.Email, secret)
		require.Zero(t, c.FailedSignIns(t, u.Email))
		// ... but not the session's.
		apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"}), "BAD_USER_INPUT", "code")
		apitest.RequireCode(t, c.Do(t, thief.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": "000000"}), "UNAUTHENTICATED")
		c.RequireEnded(t, thief)
		require.Equal(t, 1, c.Audited(t, "mfa.session_ended"))
		require.Equal(t, 2, c.FailedSignIns(t, u.Email))
	})

	t.Run("a right code in a locked account waits too", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		u := c.SignUp(t)
		secret := c.EnableTOTP(t, u).Secret
		s := c.SignIn(t, u.Email, apitest.Password)
		c.FailSignIn(t, u.Email, 5)
		apitest.RequireCode(t, c.Do(t, s.Token, apitest.OpVerifySecondFactor, apitest.Vars{"code": c.NextTOTPCode(t, secret)}), "RATE_LIMITED")
	})

	t.Run("one guess per request", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		u := c.SignUp(t)
		c.EnableTOTP(t, u)
		s := c.SignIn(t, u.Email, apitest.Password)
		r := c.Do(t, s.Token, `mutation { a: verifySecondFactor(code: "000000") { accessToken } b: verifySecondFactor(code: "111111") { accessToken } }`, nil)
		apitest.RequireCode(t, r, "RATE_LIMITED")
		require.Zero(t, c.Audited(t, "mfa.failed"))
	})
}

// TestRequireAdminMFA: with REQUIRE_ADMIN_MFA, an ADMIN's session counts
// as ADMIN only once it passed a second factor.
func TestRequireAdminMFA(t *testing.T) {
	t.Parallel()
	book := apitest.Vars{"in": apitest.Vars{"title": "T", "author": "A"}}
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.Accounts.RequireAdminMFA = true }})
	admin := c.NewUser(t, apitest.Admin)
	require.False(t, admin.MFARequired, "an ADMIN without a factor may sign in")
	// A service that only verifies the token (by the JWKS) sees no ADMIN.
	require.Zero(t, authtest.ClaimsOf(t, admin.Token).Perm&apitest.Admin, "the token of an ADMIN who has not passed a factor carries ADMIN")
	e := apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpCreateBook, book), "FORBIDDEN")
	require.Equal(t, "MFA_REQUIRED", e.Extensions["reason"])
	apitest.RequireMFARequired(t, c.Do(t, admin.Token, apitest.OpBooks, nil)) // level 2048: FREE only through ADMIN
	other := c.SignUp(t)
	apitest.RequireMFARequired(t, c.Do(t, admin.Token, apitest.OpUser, apitest.Vars{"id": other.ID}))
	require.Equal(t, admin.ID, c.Me(t, admin.Token).ID)

	// Setting one up passes it in that session.
	tp := c.EnableTOTP(t, admin)
	apitest.Data[apitest.Book](t, c.Do(t, admin.Token, apitest.OpCreateBook, book), "createBook")
	s := c.SignIn(t, admin.Email, apitest.Password)
	require.True(t, s.MFARequired)
	s = c.VerifySecondFactor(t, s.Token, c.NextTOTPCode(t, tp.Secret))
	require.Equal(t, apitest.Admin, authtest.ClaimsOf(t, s.Token).Perm, "the token once the factor passed")
	apitest.Data[apitest.Book](t, c.Do(t, s.Token, apitest.OpCreateBook, book), "createBook")
	require.Equal(t, apitest.Admin, authtest.ClaimsOf(t, c.Refresh(t, admin.RefreshToken).Token).Perm,
		"refreshing the session that set the factor up")

	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		c := apitest.New(t)
		admin := c.NewUser(t, apitest.Admin)
		apitest.Data[apitest.Book](t, c.Do(t, admin.Token, apitest.OpCreateBook, book), "createBook")
	})
}

// TestMFAEnabledIsPrivate: whether a user has a second factor is theirs
// and ADMINs' to read, as secondFactors is: a PAID caller who lists users
// gets FORBIDDEN on everyone else's mfaEnabled (it tells which accounts a
// stolen password opens alone).
func TestMFAEnabledIsPrivate(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	paid := c.NewUser(t, apitest.Paid)
	admin := c.NewUser(t, apitest.Admin)
	u := c.SignUp(t)
	c.EnableTOTP(t, u)
	type listed struct {
		Users struct {
			Edges []struct {
				Node *struct {
					ID         string `json:"id"`
					MFAEnabled bool   `json:"mfaEnabled"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"users"`
	}
	first := apitest.Vars{"first": 100}

	r := c.Do(t, paid.Token, apitest.OpUsersMFAEnabled, first)
	apitest.RequireCode(t, r, "FORBIDDEN")
	var got listed
	require.NoError(t, json.Unmarshal(r.Data, &got))
	var readable []string
	for _, e := range got.Users.Edges {
		if e.Node != nil {
			readable = append(readable, e.Node.ID)
		}
	}
	require.Equal(t, []string{paid.ID}, readable, "a PAID caller reads only their own")
	apitest.RequireCode(t, c.Do(t, paid.Token, `query($id: ID!) { node(id: $id) { ... on User { mfaEnabled } } }`, apitest.Vars{"id": u.ID}), "FORBIDDEN")

	r = c.Do(t, admin.Token, apitest.OpUsersMFAEnabled, first)
	require.Empty(t, r.Errors, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Data, &got))
	enabled := map[string]bool{}
	for _, e := range got.Users.Edges {
		enabled[e.Node.ID] = e.Node.MFAEnabled
	}
	require.Equal(t, map[string]bool{paid.ID: false, admin.ID: false, u.ID: true}, enabled)

	// The user themself, in me and in what answers for them.
	require.True(t, c.Me(t, u.Token).MFAEnabled)
	require.True(t, c.SignIn(t, u.Email, apitest.Password).MFAEnabled)
}

// TestRemoveSecondFactors: an ADMIN removes the second factors of a user
// who lost them; audited with the ADMIN as actor.
func TestRemoveSecondFactors(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	admin := c.NewUser(t, apitest.Admin)
	u := c.SignUp(t)
	c.EnableTOTP(t, u)
	waiting := c.SignIn(t, u.Email, apitest.Password)

	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": u.ID}), "FORBIDDEN")
	apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": admin.ID}), "FORBIDDEN")
	apitest.RequireCode(t, c.Do(t, admin.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": uuid.NewString()}), "NOT_FOUND")
	got := apitest.Data[apitest.User](t, c.Do(t, admin.Token, apitest.OpRemoveSecondFactors, apitest.Vars{"userId": u.ID}), "removeSecondFactors")
	require.False(t, got.MFAEnabled)
	c.RequireEnded(t, waiting)
	require.False(t, c.SignIn(t, u.Email, apitest.Password).MFARequired)
	require.Equal(t, apitest.SecondFactors{Passkeys: []apitest.Passkey{}}, c.MySecondFactors(t, u.Token))

	events := apitest.Data[apitest.Connection[apitest.AuditEvent]](t, c.Do(t, admin.Token, apitest.OpAuditEvents, apitest.Vars{"last": 20}), "auditEvents").Nodes()
	var removed *apitest.AuditEvent
	for i := range events {
		if events[i].Action == "mfa.removed_by_admin" {
			removed = &events[i]
		}
	}
	require.NotNil(t, removed, "no mfa.removed_by_admin event")
	require.Equal(t, u.ID, *removed.UserID)
	require.Equal(t, admin.ID, *removed.ActorID)
	require.Equal(t, "TOTP and 10 recovery codes", removed.Detail)
}

// TestTOTPOffWithoutAKey: without TOTP_ENCRYPTION_KEY, enrollTotp is
// refused, and a server refuses to start while a user has TOTP on.
func TestTOTPOffWithoutAKey(t *testing.T) {
	t.Parallel()
	c := apitest.New(t, apitest.Options{Config: func(c *app.Config) { c.TOTPKey = nil }})
	u := c.SignUp(t)
	apitest.RequireCode(t, c.Do(t, u.Token, apitest.OpEnrollTotp, apitest.Vars{"currentPassword": apitest.Password}), "FORBIDDEN")

	on := apitest.New(t)
	on.EnableTOTP(t, on.SignUp(t))
	cfg := app.Defaults()
	cfg.DatabaseURL, cfg.Signing.Secret, cfg.MailDir = on.DatabaseURL, []byte("another-secret-0123456789abcdef0123"), t.TempDir()
	_, err := app.New(context.Background(), cfg)
	require.ErrorContains(t, err, "TOTP_ENCRYPTION_KEY")
}
