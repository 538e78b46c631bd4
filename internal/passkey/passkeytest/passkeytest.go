// Package passkeytest is a software authenticator for tests of passkeys:
// it answers the WebAuthn JSON options a server sends as a browser with a
// platform authenticator would, with ES256 keys it makes, attestation
// "none", and authenticator data built by hand (user present and
// verified), so that a test drives registration and sign-in through the
// API without a browser. Real browsers are checked by
// internal/playground/browsercheck.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/stretchr/testify/require"
)

// Authenticator holds passkeys and answers ceremonies for pages of Origin.
// It is not safe for concurrent use.
type Authenticator struct {
	// Origin is the origin of the page that calls it, which its answers
	// carry in their clientDataJSON.
	Origin string
	// Passkeys are the passkeys it made, oldest first.
	Passkeys []*Passkey
	// NoUserVerification makes its assertions say the user was present
	// but not verified, as an authenticator without a PIN or biometric
	// does.
	NoUserVerification bool
}

// Passkey is a discoverable credential the authenticator holds.
type Passkey struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	SignCount  uint32
}

// New returns an authenticator without passkeys for pages of origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// b64 is base64url without padding, the WebAuthn JSON forms' encoding.
var b64 = base64.RawURLEncoding

// flags of authenticator data.
const (
	userPresent  = 0x01
	userVerified = 0x04
	attested     = 0x40
)

// creationOptions is what Create reads of PublicKeyCredentialCreationOptionsJSON.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Exclude []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// Create makes a passkey for options (PublicKeyCredentialCreationOptionsJSON)
// and returns the RegistrationResponseJSON a browser's credential.toJSON()
// gives. It fails the test if it holds an excluded passkey.
func (a *Authenticator) Create(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	var o creationOptions
	require.NoError(t, json.Unmarshal(options, &o), "creation options: %s", options)
	for _, ex := range o.Exclude {
		for _, p := range a.Passkeys {
			require.NotEqual(t, ex.ID, b64.EncodeToString(p.ID), "asked to make a passkey it holds already")
		}
	}
	user, err := b64.DecodeString(o.User.ID)
	require.NoError(t, err, "user.id")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p := &Passkey{ID: make([]byte, 16), RPID: o.RP.ID, UserHandle: user, Key: key}
	_, _ = rand.Read(p.ID)
	a.Passkeys = append(a.Passkeys, p)

	point, err := key.PublicKey.Bytes() // 0x04, X, Y: 32 bytes each on P-256
	require.NoError(t, err)
	x, y := point[1:33], point[33:]
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256), XCoord: x, YCoord: y,
	})
	require.NoError(t, err)
	authData := p.authData(userPresent | userVerified | attested)
	authData = append(authData, make([]byte, 16)...) // AAGUID: none
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(p.ID)))
	authData = append(append(authData, p.ID...), cose...)
	attestation, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	require.NoError(t, err)
	return a.answer(t, p, map[string]any{
		"clientDataJSON":    b64.EncodeToString(a.clientData(t, "webauthn.create", o.Challenge)),
		"attestationObject": b64.EncodeToString(attestation),
		"transports":        []string{"internal"},
	})
}

// requestOptions is what Get reads of PublicKeyCredentialRequestOptionsJSON.
type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
	Allow     []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// Get signs options (PublicKeyCredentialRequestOptionsJSON) with its newest
// passkey for the relying party that allowCredentials allows (any, when
// it lists none), and returns the AuthenticationResponseJSON a browser's
// credential.toJSON() gives. It fails the test if it holds none.
func (a *Authenticator) Get(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	var o requestOptions
	require.NoError(t, json.Unmarshal(options, &o), "request options: %s", options)
	var p *Passkey
	for _, k := range a.Passkeys {
		allowed := len(o.Allow) == 0
		for _, c := range o.Allow {
			allowed = allowed || c.ID == b64.EncodeToString(k.ID)
		}
		if k.RPID == o.RPID && allowed {
			p = k
		}
	}
	require.NotNil(t, p, "no passkey for %s among %d", o.RPID, len(a.Passkeys))
	return a.Sign(t, p, o.Challenge)
}

// Sign answers challenge (base64url) with passkey p: its sign count goes up
// by one.
func (a *Authenticator) Sign(t testing.TB, p *Passkey, challenge string) json.RawMessage {
	t.Helper()
	p.SignCount++
	flags := byte(userPresent | userVerified)
	if a.NoUserVerification {
		flags = userPresent
	}
	authData := p.authData(flags)
	clientData := a.clientData(t, "webauthn.get", challenge)
	hash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, p.Key, digest[:])
	require.NoError(t, err)
	return a.answer(t, p, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(p.UserHandle),
	})
}

// authData returns the authenticator data's fixed part: the RP ID's hash,
// flags and the sign count.
func (p *Passkey) authData(flags byte) []byte {
	rp := sha256.Sum256([]byte(p.RPID))
	return binary.BigEndian.AppendUint32(append(rp[:], flags), p.SignCount)
}

// clientData returns the clientDataJSON of a ceremony of type typ.
func (a *Authenticator) clientData(t testing.TB, typ, challenge string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	require.NoError(t, err)
	return b
}

// answer wraps a response as PublicKeyCredential.toJSON() does.
func (a *Authenticator) answer(t testing.TB, p *Passkey, response map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(p.ID), "rawId": b64.EncodeToString(p.ID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{}, "response": response,
	})
	require.NoError(t, err)
	return b
}
