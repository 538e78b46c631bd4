package graph_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/auth"
)

// TestLookAlikeEmails: of two spellings a person reads as one address,
// the second either reaches the first's account (sign-up is CONFLICT,
// sign-in signs in to it) or is refused (BAD_USER_INPUT on email). Before,
// each made a second account.
func TestLookAlikeEmails(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	for _, tc := range []struct {
		name, plain, lookalike string
		refused                bool
	}{
		{"zero-width space", "zwsp@example.com", "zw\u200bsp@example.com", true},
		{"NFD and NFC", "jos\u00e9@example.com", "jose\u0301@example.com", false},
		{"Cyrillic о", "ops@example.com", "\u043eps@example.com", true},
		{"Unicode domain and punycode", "ana@b\u00fccher.de", "ana@xn--bcher-kva.de", false},
		{"punycode domain and Unicode", "max@xn--mnchen-3ya.de", "max@M\u00dcNCHEN.de", false},
		{"fullwidth letters", "wide@example.com", "\uff37\uff29\uff24\uff25@example.com", false},
		{"Cyrillic а in the domain", "dom@example.org", "dom@ex\u0430mple.org", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := s.SignUpAs(t, tc.plain)
			r := s.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(tc.lookalike)})
			if tc.refused {
				require.Equal(t, "BAD_USER_INPUT", r.Code(), "sign-up as %q: %s", tc.lookalike, r.Body)
				require.Equal(t, "email", r.Errors[0].Field())
				return
			}
			require.Equal(t, "CONFLICT", r.Code(), "sign-up as %q made a second account: %s", tc.lookalike, r.Body)
			p := s.SignIn(t, tc.lookalike, apitest.Password)
			require.Equal(t, first.User.ID, p.User.ID, "sign-in as %q reached another account", tc.lookalike)
			require.Equal(t, first.User.Email, p.User.Email)
		})
	}
}

// TestEmailsStoredBeforeNormalisation: rows written when emails were only
// trimmed and lower-cased still sign in as typed then (and a Unicode
// domain also by its punycode), and a new account cannot take their
// address in another form.
func TestEmailsStoredBeforeNormalisation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	hash, err := auth.HashPassword(apitest.Password)
	require.NoError(t, err)
	for _, tc := range []struct{ stored, signin, signup string }{
		{"old@b\u00fccher.de", "OLD@xn--bcher-kva.de", "old@xn--bcher-kva.de"},
		{"ana.old@b\u00fccher.de", "Ana.Old@B\u00fccher.de", "ana.old@B\u00dcCHER.de"},
		{"jose\u0301@example.com", "jose\u0301@example.com", "JOSE\u0301@example.com"},
	} {
		old, err := s.DB.User.Create().SetFirstName("Old").SetLastName("Row").
			SetEmail(tc.stored).SetPasswordHash(hash).SetPermissionLevel(1).Save(ctx)
		require.NoError(t, err)
		p := s.SignIn(t, tc.signin, apitest.Password)
		require.Equal(t, old.ID.String(), p.User.ID, "sign-in as %q", tc.signin)
		r := s.Do(t, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(tc.signup)})
		require.Equal(t, "CONFLICT", r.Code(), "sign-up as %q beside the stored %q: %s", tc.signup, tc.stored, r.Body)
	}
}
