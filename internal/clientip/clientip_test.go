package clientip

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseHop(t *testing.T) {
	for _, tt := range []struct{ hop, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{" 192.0.2.1 ", "192.0.2.1"},
		{"192.0.2.1:443", "192.0.2.1"},
		{"192.0.2.1:0", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{" [2001:DB8::1]:443", "2001:db8::1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"fe80::1%eth0", "fe80::1"},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"::1", "::1"},
	} {
		got, err := ParseHop(tt.hop)
		require.NoError(t, err, "ParseHop(%q)", tt.hop)
		require.Equal(t, tt.want, got.String(), "ParseHop(%q) = %v, want %v", tt.hop, got, tt.want)
	}
	for _, hop := range []string{
		"", " ", "unknown", "example.com", "example.com:80", "[192.0.2.1]", "[192.0.2.1]:80",
		"192.0.2.1:", "192.0.2.1:port", "192.0.2.1:99999", "[2001:db8::1", "2001:db8::1]", "[2001:db8::1]:",
		"2001:db8::1:443x", "192.0.2.256", "_hidden", `"[2001:db8::1]"`, "192.0.2.1/24",
	} {
		a, err := ParseHop(hop)
		require.Error(t, err, "ParseHop(%q) = %v, want an error", hop, a)
	}
}

func TestKey(t *testing.T) {
	for _, tt := range []struct {
		ip     string
		prefix int
		want   string
	}{
		{"192.0.2.1", 64, "192.0.2.1"},
		{"192.0.2.1", 0, "192.0.2.1"},
		{"::ffff:192.0.2.1", 64, "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", 64, "2001:db8:1:3::/64"},
		{"2001:db8:1:2:3:4:5:6", 0, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 129, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"not an address", 64, "not an address"},
		{"", 64, ""},
	} {
		got := Key(tt.ip, tt.prefix)
		require.Equal(t, tt.want, got, "Key(%q, %d) = %q, want %q", tt.ip, tt.prefix, got, tt.want)
	}
	// Two addresses of one /64 share a key; neighbouring /64s do not.
	require.Equal(t, Key("2001:db8::1", 64), Key("2001:db8::ffff:1", 64))
	require.NotEqual(t, Key("2001:db8::1", 64), Key("2001:db8:0:1::1", 64))
}
