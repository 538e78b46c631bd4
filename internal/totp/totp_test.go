package totp_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/totp"
)

// rfcSecret is RFC 6238's SHA-1 test key, "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// TestCodeVectors checks codes against RFC 6238's appendix B (its 8-digit
// codes, of which a 6-digit code is the last 6).
func TestCodeVectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := totp.Code(rfcSecret, totp.Step(time.Unix(tc.unix, 0)))
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "Code at %d", tc.unix)
	}
}

func TestMatch(t *testing.T) {
	now := time.Unix(1111111109, 0)
	step := totp.Step(now)
	code := func(s int64) string {
		c, err := totp.Code(rfcSecret, s)
		require.NoError(t, err)
		return c
	}
	for _, tc := range []struct {
		name   string
		code   string
		after  int64
		want   int64
		wantOK bool
	}{
		{"current step", code(step), 0, step, true},
		{"one step behind", code(step - 1), 0, step - 1, true},
		{"one step ahead", code(step + 1), 0, step + 1, true},
		{"two steps behind", code(step - 2), 0, 0, false},
		{"two steps ahead", code(step + 2), 0, 0, false},
		{"accepted already", code(step), step, 0, false},
		{"older than the last accepted", code(step - 1), step, 0, false},
		{"newer than the last accepted", code(step + 1), step, step + 1, true},
		{"wrong", "000000", 0, 0, false},
	} {
		got, ok, err := totp.Match(rfcSecret, tc.code, now, tc.after)
		require.NoError(t, err)
		require.Equal(t, tc.wantOK, ok, "Match(%s) ok", tc.name)
		require.Equal(t, tc.want, got, "Match(%s) step", tc.name)
	}
}

func TestGenerate(t *testing.T) {
	k, err := totp.Generate("bitgate", "ada@example.com")
	require.NoError(t, err)
	require.Len(t, k.Secret, 32, "160 bits in base32")
	u, err := url.Parse(k.URI)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	q := u.Query()
	require.Equal(t, k.Secret, q.Get("secret"))
	require.Equal(t, "bitgate", q.Get("issuer"))
	require.Equal(t, "SHA1", q.Get("algorithm"))
	require.Equal(t, "6", q.Get("digits"))
	require.Equal(t, "30", q.Get("period"))
	other, err := totp.Generate("bitgate", "ada@example.com")
	require.NoError(t, err)
	require.NotEqual(t, k.Secret, other.Secret)
}

func TestQRCodeSVG(t *testing.T) {
	svg, err := totp.QRCodeSVG("otpauth://totp/bitgate:ada%40example.com?secret=" + rfcSecret + "&issuer=bitgate")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `), svg[:80])
	require.Contains(t, svg, `<path fill="#000" d="M4 4h1v1h-1z`, "a finder pattern starts at the quiet zone's corner")
	require.NotContains(t, svg, "<script")
}

func TestWellFormed(t *testing.T) {
	for code, want := range map[string]bool{"123456": true, "12345": false, "1234567": false, "12345a": false, "": false, "１２３４５６": false} {
		require.Equal(t, want, totp.WellFormed(code), "WellFormed(%q)", code)
	}
}
