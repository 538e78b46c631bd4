package apitest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/passkey/passkeytest"
	"bitgate/internal/totp"
)

// Selections of the second factors' types.
const (
	passkeyFields       = `id name createdAt lastUsedAt`
	secondFactorsFields = `totp recoveryCodesLeft passkeys { ` + passkeyFields + ` }`
)

// The second factors' operations. Their variables: $code, $currentPassword,
// $response (a WebAuthn JSON form), $name, $id (a passkey's) and $userId.
const (
	OpVerifySecondFactor      = `mutation($code: String!) { verifySecondFactor(code: $code) { ` + sessionFields + ` } }`
	OpEnrollTotp              = `mutation($currentPassword: String!) { enrollTotp(currentPassword: $currentPassword) { secret uri qrCodeSvg } }`
	OpConfirmTotp             = `mutation($code: String!) { confirmTotp(code: $code) }`
	OpDisableTotp             = `mutation($currentPassword: String!, $code: String!) { disableTotp(currentPassword: $currentPassword, code: $code) }`
	OpRegenerateRecoveryCodes = `mutation($currentPassword: String!) { regenerateRecoveryCodes(currentPassword: $currentPassword) }`
	OpSecondFactors           = `{ me { secondFactors { ` + secondFactorsFields + ` } } }`
	OpUserSecondFactors       = `query($id: ID!) { user(id: $id) { mfaEnabled secondFactors { ` + secondFactorsFields + ` } } }`
	OpUsersMFAEnabled         = `query($first: Int) { users(first: $first) { edges { node { id mfaEnabled } } } }`
	OpRemoveSecondFactors     = `mutation($userId: ID!) { removeSecondFactors(userId: $userId) { ` + userFields + ` } }`

	OpBeginPasskeyRegistration  = `mutation($currentPassword: String!) { beginPasskeyRegistration(currentPassword: $currentPassword) }`
	OpFinishPasskeyRegistration = `mutation($response: JSON!, $name: String) { finishPasskeyRegistration(response: $response, name: $name) { ` + passkeyFields + ` } }`
	OpRemovePasskey             = `mutation($id: ID!, $currentPassword: String!) { removePasskey(id: $id, currentPassword: $currentPassword) }`
	OpBeginPasskeySignin        = `mutation { beginPasskeySignin }`
	OpFinishPasskeySignin       = `mutation($response: JSON!) { finishPasskeySignin(response: $response) { ` + sessionFields + ` } }`
	OpBeginPasskeyVerification  = `mutation { beginPasskeyVerification }`
	OpFinishPasskeyVerification = `mutation($response: JSON!) { finishPasskeyVerification(response: $response) { ` + sessionFields + ` } }`
)

// SecondFactors is a SecondFactors as the API answers it.
type SecondFactors struct {
	TOTP              bool      `json:"totp"`
	RecoveryCodesLeft int       `json:"recoveryCodesLeft"`
	Passkeys          []Passkey `json:"passkeys"`
}

// Passkey is a Passkey as the API answers it.
type Passkey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// TotpEnrollment is enrollTotp's answer.
type TotpEnrollment struct {
	Secret    string `json:"secret"`
	URI       string `json:"uri"`
	QRCodeSVG string `json:"qrCodeSvg"`
}

// TOTP is a user's TOTP as a test holds it: the secret the API answered
// and the recovery codes confirmTotp answered.
type TOTP struct {
	Secret        string
	RecoveryCodes []string
}

// TOTPCode returns secret's code at the server's clock, as an
// authenticator app on a phone with the right time would show it.
func (c *Client) TOTPCode(t testing.TB, secret string) string {
	t.Helper()
	code, err := totp.Code(secret, totp.Step(c.Clock.Now()))
	require.NoError(t, err, "TOTP code")
	return code
}

// NextTOTPCode moves the clock on to the next 30-second step and returns
// secret's code there: a code the server has not seen yet.
func (c *Client) NextTOTPCode(t testing.TB, secret string) string {
	t.Helper()
	c.Clock.Advance(totp.Period)
	return c.TOTPCode(t, secret)
}

// EnableTOTP sets up TOTP for s's user through the API (enrollTotp with
// Password, then confirmTotp with a code of the secret it answered) and
// returns the secret and the recovery codes.
func (c *Client) EnableTOTP(t testing.TB, s AuthPayload) TOTP {
	t.Helper()
	e := Data[TotpEnrollment](t, c.Do(t, s.Token, OpEnrollTotp, Vars{"currentPassword": Password}), "enrollTotp")
	require.NotEmpty(t, e.Secret, "enrollTotp without a secret")
	codes := Data[[]string](t, c.Do(t, s.Token, OpConfirmTotp, Vars{"code": c.TOTPCode(t, e.Secret)}), "confirmTotp")
	require.Len(t, codes, 10, "recovery codes")
	return TOTP{Secret: e.Secret, RecoveryCodes: codes}
}

// SignInWithTOTP signs in with Password, which must answer a session that
// waits for its second factor, and passes it with the next code of secret
// (the clock moves on a step); it returns the new pair.
func (c *Client) SignInWithTOTP(t testing.TB, email, secret string) AuthPayload {
	t.Helper()
	pending := c.SignIn(t, email, Password)
	require.True(t, pending.MFARequired, "signin of a user with TOTP did not ask for it")
	return c.VerifySecondFactor(t, pending.Token, c.NextTOTPCode(t, secret))
}

// VerifySecondFactor passes the second factor of token's session with code
// and requires the new pair.
func (c *Client) VerifySecondFactor(t testing.TB, token, code string) AuthPayload {
	t.Helper()
	s := Data[AuthPayload](t, c.Do(t, token, OpVerifySecondFactor, Vars{"code": code}), "verifySecondFactor")
	require.False(t, s.MFARequired, "verifySecondFactor answered a session still waiting")
	return s
}

// RegisterPasskey registers a passkey of auth, named "laptop", for s's
// user (beginPasskeyRegistration with Password, then
// finishPasskeyRegistration with auth's answer) and returns it.
func (c *Client) RegisterPasskey(t testing.TB, s AuthPayload, auth *passkeytest.Authenticator) Passkey {
	t.Helper()
	options := Data[json.RawMessage](t, c.Do(t, s.Token, OpBeginPasskeyRegistration,
		Vars{"currentPassword": Password}), "beginPasskeyRegistration")
	return Data[Passkey](t, c.Do(t, s.Token, OpFinishPasskeyRegistration,
		Vars{"response": auth.Create(t, options), "name": "laptop"}), "finishPasskeyRegistration")
}

// MySecondFactors asks for the second factors of token's user.
func (c *Client) MySecondFactors(t testing.TB, token string) SecondFactors {
	t.Helper()
	type me struct {
		SecondFactors SecondFactors `json:"secondFactors"`
	}
	return Data[me](t, c.Do(t, token, OpSecondFactors, nil), "me").SecondFactors
}

// RequireMFARequired requires r to have failed with FORBIDDEN and the
// reason MFA_REQUIRED.
func RequireMFARequired(t testing.TB, r *Response) {
	t.Helper()
	e := RequireCode(t, r, "FORBIDDEN")
	require.Equal(t, "MFA_REQUIRED", e.Extensions["reason"], "reason in %s", r.Body)
}
