package passkey_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/passkey"
)

// TestNewResolvesTheRelyingParty: the relying party's ID comes from
// WEBAUTHN_RP_ID or PUBLIC_URL (DevPublicURL in development); passkeys
// are off, not a failed start, when production names none or PUBLIC_URL
// is on an IP address; a wrong setting is an error naming it.
func TestNewResolvesTheRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        passkey.Config
		production bool
		id, err    string
		off        bool
	}{
		{name: "development default", id: "localhost"},
		{name: "from PUBLIC_URL", cfg: passkey.Config{PublicURL: "https://app.example.com/base"}, production: true, id: "app.example.com"},
		{name: "an ID above the origins", cfg: passkey.Config{RPID: "example.com", Origins: []string{"https://app.example.com"}}, production: true, id: "example.com"},
		{name: "production without either", production: true, off: true},
		{name: "PUBLIC_URL on an IP address", cfg: passkey.Config{PublicURL: "http://127.0.0.1:8000"}, off: true},
		{name: "an IP address as the ID", cfg: passkey.Config{RPID: "127.0.0.1", Origins: []string{"http://127.0.0.1"}}, err: "WEBAUTHN_RP_ID must be a domain"},
		{name: "an origin elsewhere", cfg: passkey.Config{RPID: "example.com", Origins: []string{"https://evil.example.net"}}, err: "is not on example.com"},
		{name: "an origin with a path", cfg: passkey.Config{RPID: "example.com", Origins: []string{"https://example.com/app"}}, err: "is not an origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := passkey.New(tc.cfg, tc.production)
			switch {
			case tc.off:
				require.ErrorIs(t, err, passkey.ErrOff)
			case tc.err != "":
				require.ErrorContains(t, err, tc.err)
				require.NotErrorIs(t, err, passkey.ErrOff)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.id, rp.ID())
			}
		})
	}
}
