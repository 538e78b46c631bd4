// Package passkey runs the WebAuthn ceremonies of passkeys with
// go-webauthn: registration, and assertions for a sign-in without a
// password (a discoverable credential, which counts as both factors) and
// as the second factor after a password. It speaks the WebAuthn JSON
// forms a browser's PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON and toJSON use: it begins a ceremony with
// the options (PublicKeyCredentialCreationOptionsJSON or
// PublicKeyCredentialRequestOptionsJSON) and the data to keep until it
// finishes, and finishes it with the browser's answer
// (RegistrationResponseJSON or AuthenticationResponseJSON) and that data.
// Where the data is kept, how long a challenge lives and that it is used
// once are the caller's (internal/account keeps them in the database).
package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Config holds the relying party's settings. Each tagged field is a
// setting (see internal/settings).
type Config struct {
	// RPID is the relying party ID: the domain passkeys belong to, which
	// every origin must be or be under. Empty means PublicURL's host.
	RPID string `flag:"webauthn-rp-id" env:"WEBAUTHN_RP_ID" help:"the domain passkeys belong to (relying party ID), which every WEBAUTHN_ORIGINS host must be or be under (default: PUBLIC_URL's host)"`
	// RPName names the service when a passkey is made.
	RPName string `flag:"webauthn-rp-name" env:"WEBAUTHN_RP_NAME" default:"bitgate" help:"the service's name shown when a passkey is made"`
	// Origins are the origins (scheme://host[:port]) of the pages that
	// may use passkeys. Empty means PublicURL's origin.
	Origins []string `flag:"webauthn-origins" env:"WEBAUTHN_ORIGINS" help:"comma-separated origins of the pages that use passkeys (default: PUBLIC_URL's origin)"`
	// PublicURL is the frontend's address (PUBLIC_URL, a mail setting),
	// from which RPID and Origins default; the app fills it in. With
	// neither it nor RPID, DevPublicURL stands in outside production.
	PublicURL string
}

// DevPublicURL is the frontend's address development assumes when neither
// WEBAUTHN_RP_ID nor PUBLIC_URL is set: this server on its default port,
// whose playground is a page of that origin.
const DevPublicURL = "http://localhost:8080"

// ErrOff is New's answer when production has no relying party: neither
// WEBAUTHN_RP_ID nor PUBLIC_URL.
var ErrOff = errors.New("passkeys are off: set WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS, or PUBLIC_URL")

// resolve returns the relying party's ID and origins: the settings, or
// what PublicURL gives (DevPublicURL outside production). It returns
// ErrOff in production without either, and when the ID would be
// PublicURL's host but that is an IP address (which WebAuthn refuses as
// an ID); and an error for a setting that does not parse or an origin
// outside the ID.
func (c Config) resolve(production bool) (string, []string, error) {
	id, origins := c.RPID, c.Origins
	base := c.PublicURL
	if base == "" && !production {
		base = DevPublicURL
	}
	if id == "" || len(origins) == 0 {
		if base == "" {
			return "", nil, ErrOff
		}
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return "", nil, fmt.Errorf("PUBLIC_URL %q is not an absolute URL", base)
		}
		if id == "" {
			if id = u.Hostname(); net.ParseIP(id) != nil {
				return "", nil, fmt.Errorf("%w (PUBLIC_URL's host %s is an IP address, and passkeys belong to a domain)", ErrOff, id)
			}
		}
		if len(origins) == 0 {
			origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	if net.ParseIP(id) != nil || strings.ContainsAny(id, ":/") {
		return "", nil, fmt.Errorf("WEBAUTHN_RP_ID must be a domain (such as example.com or localhost), not %q", id)
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return "", nil, fmt.Errorf("WEBAUTHN_ORIGINS: %q is not an origin (scheme://host[:port])", o)
		}
		if h := u.Hostname(); h != id && !strings.HasSuffix(h, "."+id) {
			return "", nil, fmt.Errorf("WEBAUTHN_ORIGINS: %q is not on %s (WEBAUTHN_RP_ID) or under it", o, id)
		}
	}
	return id, origins, nil
}

// RelyingParty runs the ceremonies. It is safe for concurrent use.
type RelyingParty struct {
	w *webauthn.WebAuthn
}

// New returns the relying party of cfg. It returns ErrOff (wrapped) when
// cfg names none in production, or only a PublicURL on an IP address, and
// an error if a setting is wrong.
func New(cfg Config, production bool) (*RelyingParty, error) {
	id, origins, err := cfg.resolve(production)
	if err != nil {
		return nil, err
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:                  id,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &RelyingParty{w: w}, nil
}

// ID returns the relying party ID.
func (rp *RelyingParty) ID() string { return rp.w.Config.RPID }

// User is a user as the ceremonies see them: the user handle is the
// user's id (16 bytes: no personal data), the name their email.
type User struct {
	ID          uuid.UUID
	Name        string
	DisplayName string
	Credentials []webauthn.Credential
}

var _ webauthn.User = User{}

// WebAuthnID returns the user handle: the user's id.
func (u User) WebAuthnID() []byte { return u.ID[:] }

// WebAuthnName returns the email.
func (u User) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName returns the user's name.
func (u User) WebAuthnDisplayName() string { return u.DisplayName }

// WebAuthnCredentials returns the user's passkeys.
func (u User) WebAuthnCredentials() []webauthn.Credential { return u.Credentials }

// Begun is a ceremony begun: the options for the browser, in their JSON
// form, and the challenge and data to keep until it finishes.
type Begun struct {
	// Options is PublicKeyCredentialCreationOptionsJSON for a
	// registration, PublicKeyCredentialRequestOptionsJSON for an assertion.
	Options json.RawMessage
	// Challenge is the challenge in base64url, as the browser's answer
	// carries it in its clientDataJSON (see Challenge).
	Challenge string
	// Data is go-webauthn's session data, to hand back to Finish….
	Data []byte
}

// begun wraps what go-webauthn began.
func begun(options any, sd *webauthn.SessionData) (Begun, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return Begun{}, fmt.Errorf("encode passkey options: %w", err)
	}
	data, err := json.Marshal(sd)
	if err != nil {
		return Begun{}, fmt.Errorf("encode passkey session: %w", err)
	}
	return Begun{Options: opts, Challenge: sd.Challenge, Data: data}, nil
}

// session decodes what begun stored.
func session(data []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(data, &sd); err != nil {
		return sd, fmt.Errorf("decode passkey session: %w", err)
	}
	return sd, nil
}

// BeginRegistration begins making a discoverable passkey for u, with user
// verification and no attestation; u's passkeys are excluded, so that an
// authenticator holding one says so instead of making another.
func (rp *RelyingParty) BeginRegistration(u User) (Begun, error) {
	creation, sd, err := rp.w.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.Credentials).CredentialDescriptors()))
	if err != nil {
		return Begun{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return begun(creation.Response, sd)
}

// Registration is a browser's answer to BeginRegistration's options.
type Registration struct {
	parsed *protocol.ParsedCredentialCreationData
}

// ParseRegistration reads a RegistrationResponseJSON. Returns a Refusal
// if it is not one.
func ParseRegistration(response []byte) (*Registration, error) {
	p, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, refusal(err)
	}
	return &Registration{parsed: p}, nil
}

// Challenge returns the challenge the answer was made for.
func (r *Registration) Challenge() string { return r.parsed.Response.CollectedClientData.Challenge }

// FinishRegistration checks r against the ceremony begun for u with data
// (its challenge, the origin, the relying party, user presence and
// verification) and returns the new credential. Returns a Refusal if r
// does not pass.
func (rp *RelyingParty) FinishRegistration(u User, data []byte, r *Registration) (*webauthn.Credential, error) {
	sd, err := session(data)
	if err != nil {
		return nil, err
	}
	c, err := rp.w.CreateCredential(u, sd, r.parsed)
	if err != nil {
		return nil, refusal(err)
	}
	return c, nil
}

// BeginSignin begins a sign-in with any discoverable passkey of this
// relying party, with user verification: the browser offers the user's
// passkeys, and the answer names the user (its user handle).
func (rp *RelyingParty) BeginSignin() (Begun, error) {
	assertion, sd, err := rp.w.BeginDiscoverableLogin()
	if err != nil {
		return Begun{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return begun(assertion.Response, sd)
}

// BeginVerification begins an assertion with one of u's passkeys, as the
// second factor after u's password: user verification is preferred, not
// required, since the password is the other factor.
func (rp *RelyingParty) BeginVerification(u User) (Begun, error) {
	assertion, sd, err := rp.w.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return Begun{}, fmt.Errorf("begin passkey verification: %w", err)
	}
	return begun(assertion.Response, sd)
}

// Assertion is a browser's answer to BeginSignin's or BeginVerification's
// options.
type Assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
}

// ParseAssertion reads an AuthenticationResponseJSON. Returns a Refusal
// if it is not one.
func ParseAssertion(response []byte) (*Assertion, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, refusal(err)
	}
	return &Assertion{parsed: p}, nil
}

// Challenge returns the challenge the answer was made for.
func (a *Assertion) Challenge() string { return a.parsed.Response.CollectedClientData.Challenge }

// CredentialID returns the id of the passkey that answered.
func (a *Assertion) CredentialID() []byte { return a.parsed.RawID }

// UserHandle returns the user handle the passkey gave (a sign-in's), nil
// if none.
func (a *Assertion) UserHandle() []byte { return a.parsed.Response.UserHandle }

// FinishSignin checks a against the sign-in begun with data, u being the
// user its user handle names (with their passkeys), and returns the
// passkey, its sign count updated. Returns a Refusal if a does not pass,
// or if the passkey's count went back (a cloned authenticator).
func (rp *RelyingParty) FinishSignin(u User, data []byte, a *Assertion) (*webauthn.Credential, error) {
	sd, err := session(data)
	if err != nil {
		return nil, err
	}
	_, c, err := rp.w.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, sd, a.parsed)
	return checked(c, err)
}

// FinishVerification checks a against the verification begun for u with
// data, and returns the passkey, its sign count updated. Returns a
// Refusal if a does not pass, or if the passkey's count went back.
func (rp *RelyingParty) FinishVerification(u User, data []byte, a *Assertion) (*webauthn.Credential, error) {
	sd, err := session(data)
	if err != nil {
		return nil, err
	}
	return checked(rp.w.ValidateLogin(u, sd, a.parsed))
}

// checked refuses a credential whose sign count did not go up.
func checked(c *webauthn.Credential, err error) (*webauthn.Credential, error) {
	switch {
	case err != nil:
		return nil, refusal(err)
	case c.Authenticator.CloneWarning:
		return nil, &Refusal{Reason: "the passkey's signature counter went back: it may have been cloned"}
	}
	return c, nil
}

// Refusal is a browser's answer that does not pass: malformed, for another
// challenge, origin or relying party, without user verification, or with
// a bad signature. Reason is go-webauthn's short description, safe to
// show; Info, when go-webauthn gives it, names the check that failed
// ("User verification required but flag not set by authenticator"), for
// the audit log.
type Refusal struct {
	Reason string
	Info   string
	Err    error
}

func (r *Refusal) Error() string { return "passkey refused: " + r.Reason }

// Unwrap returns the cause.
func (r *Refusal) Unwrap() error { return r.Err }

// refusal wraps a go-webauthn error.
func refusal(err error) *Refusal {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return &Refusal{Reason: pe.Details, Info: pe.DevInfo, Err: err}
	}
	return &Refusal{Reason: "the answer is not a valid WebAuthn response", Err: err}
}
