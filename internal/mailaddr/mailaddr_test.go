package mailaddr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLookAlikes holds pairs a person would read as one address: each
// second spelling either normalises to the first's normal form or is
// refused. Before, each of them made a second account.
func TestLookAlikes(t *testing.T) {
	for _, tt := range []struct {
		name, plain, lookalike string
		want                   error // nil: both are one address
	}{
		{"zero-width space", "ops@example.com", "o\u200bps@example.com", ErrInvisible},
		{"zero-width joiner", "ops@example.com", "op\u200ds@example.com", ErrInvisible},
		{"soft hyphen", "ops@example.com", "op\u00ads@example.com", ErrInvisible},
		{"word joiner at the end", "ops@example.com", "ops@example.com\u2060", ErrInvisible},
		{"right-to-left override", "ops@example.com", "\u202eops@example.com", ErrInvisible},
		{"variation selector", "ops@example.com", "ops\ufe0f@example.com", ErrInvisible},
		{"combining grapheme joiner", "ops@example.com", "op\u034fs@example.com", ErrInvisible},
		{"Hangul filler", "ops@example.com", "ops\u3164@example.com", ErrInvisible},
		{"tag letter", "ops@example.com", "ops\U000E0041@example.com", ErrInvisible},
		{"no-break space inside", "ops@example.com", "o\u00a0ps@example.com", ErrInvisible},
		{"no-break space around", "ops@example.com", "\u00a0ops@example.com\u00a0", nil},
		{"NFD and NFC josé", "jos\u00e9@example.com", "jose\u0301@example.com", nil},
		{"NFD and NFC domain", "ana@b\u00fccher.de", "ana@bu\u0308cher.de", nil},
		{"Cyrillic о", "ops@example.com", "\u043eps@example.com", ErrMixedScripts},
		{"Greek ο", "ops@example.com", "\u03bfps@example.com", ErrMixedScripts},
		{"Cyrillic а in the domain", "ops@example.com", "ops@ex\u0430mple.com", ErrMixedScripts},
		{"Unicode domain and its punycode", "ana@b\u00fccher.de", "ana@xn--bcher-kva.de", nil},
		{"upper-case Unicode domain", "ana@b\u00fccher.de", "ANA@B\u00dcCHER.DE", nil},
		{"fullwidth letters", "ops@example.com", "\uff2f\uff30\uff33@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d", nil},
		{"fullwidth at sign", "ops@example.com", "ops\uff20example.com", nil},
		{"ideographic full stop", "ops@example.com", "ops@example\u3002com", nil},
		{"ligature", "finance@example.com", "\ufb01nance@example.com", nil},
		{"Kelvin sign", "kate@example.com", "\u212aate@example.com", nil},
		{"mathematical bold", "ops@example.com", "\U0001d428\U0001d429\U0001d42c@example.com", nil},
		{"circled letter", "ops@example.com", "\u24deps@example.com", nil},
		{"superscript two", "ops2@example.com", "ops\u00b2@example.com", nil},
		{"upper case", "ops@example.com", "  OPS@Example.COM ", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plain, err := Normalize(tt.plain)
			require.NoError(t, err, "Normalize(%q)", tt.plain)
			got, err := Normalize(tt.lookalike)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want, "Normalize(%q) = %q, %v; want %v", tt.lookalike, got, err, tt.want)
				return
			}
			require.NoError(t, err, "Normalize(%q)", tt.lookalike)
			require.Equal(t, plain, got, "Normalize(%q) = %q, Normalize(%q) = %q: two accounts", tt.plain, plain, tt.lookalike, got)
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{" Ada.Lovelace+tag@Example.COM ", "ada.lovelace+tag@example.com"},
		{"ana@b\u00fccher.de", "ana@xn--bcher-kva.de"},
		{"ops@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "ops@xn--e1afmkfd.xn--p1ai"},
		{"\u0438\u0432\u0430\u043d@example.com", "\u0438\u0432\u0430\u043d@example.com"},
		{"\u5c71\u7530taro@example.jp", "\u5c71\u7530taro@example.jp"},
		{"\u3084\u307e\u3060\u30bf\u30ed\u30a6\u5c71\u7530@example.jp", "\u3084\u307e\u3060\u30bf\u30ed\u30a6\u5c71\u7530@example.jp"},
		{"\ud64d\uae38\ub3d9kim@example.kr", "\ud64d\uae38\ub3d9kim@example.kr"},
		{"stra\u00dfe@example.de", "stra\u00dfe@example.de"},
		{"x@fa\u00df.de", "x@xn--fa-hia.de"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"d\u00e9j\u00e0-vu_1@example.fr", "d\u00e9j\u00e0-vu_1@example.fr"},
	} {
		got, err := Normalize(tt.in)
		require.NoError(t, err, "Normalize(%q)", tt.in)
		require.Equal(t, tt.want, got, "Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		again, err := Normalize(got)
		require.NoError(t, err)
		require.Equal(t, got, again, "Normalize is not idempotent on %q", tt.in)
	}
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"", ErrForm},
		{"plain", ErrForm},
		{"@example.com", ErrForm},
		{"ops@", ErrDomain},
		{"ops@localhost", ErrDomain},
		{"ops@example.com.", ErrForm},
		{"ops@exa_mple.com", ErrDomain},
		{"ops@-example.com", ErrDomain},
		{"ops@xn--zz.com", ErrDomain},
		{"ops@[192.0.2.1]", ErrDomain},
		{"Ada <ada@example.com>", ErrInvisible},
		{"a@b@example.com", ErrForm},
		{"two..dots@example.com", ErrForm},
		{`"quoted"@example.com`, ErrForm},
		{"ops@example.com\x00", ErrInvisible},
		{"ops\n@example.com", ErrInvisible},
		{"\xff@example.com", ErrForm},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", ErrForm},
		{"ops@" + strings.Repeat("b", 64) + ".com", ErrDomain},
		{strings.Repeat("a", 250) + "@example.com", ErrForm},
		{strings.Repeat("\ufdfa", 400) + "@example.com", ErrForm},
		{"ops@\ue000.com", ErrInvisible},
		{"ops\U000F0000@example.com", ErrInvisible},
		{"ops\u0378@example.com", ErrInvisible},
	} {
		got, err := Normalize(tt.in)
		require.ErrorIs(t, err, tt.want, "Normalize(%q) = %q, %v; want %v", tt.in, got, err, tt.want)
	}
}

func TestUnicodeDomain(t *testing.T) {
	require.Equal(t, "ana@b\u00fccher.de", UnicodeDomain("ana@xn--bcher-kva.de"))
	require.Equal(t, "ops@example.com", UnicodeDomain("ops@example.com"))
}

// FuzzNormalize: an accepted address is its own normal form, of at most
// MaxLen bytes, with nothing invisible in it.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"ops@example.com", "jose\u0301@example.com", "\uff2f\uff30\uff33@\uff45\uff58.com", "ana@B\u00dcCHER.de",
		"\u212aate@example.com", "\u0130stanbul@example.com", "\u1e9e@example.de", "\u2163@example.com",
		"\u3084\u307e\u3060\u5c71\u7530taro@example.jp", "x@xn--bcher-kva.de", "\u01c4@example.com", "\u0390@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(n), MaxLen)
		require.False(t, strings.ContainsFunc(n, invisible), "Normalize(%q) = %q holds an invisible character", s, n)
		again, err := Normalize(n)
		require.NoError(t, err, "Normalize(%q) = %q, which it refuses", s, n)
		require.Equal(t, n, again, "Normalize(%q) = %q, but Normalize(%q) = %q", s, n, n, again)
	})
}
