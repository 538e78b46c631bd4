// Package clientip reads client addresses from the hops of X-Forwarded-For
// and groups addresses into the keys that per-address limits count by.
package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultIPv6Prefix is how many leading bits of an IPv6 address name one
// client for the limits: a /64 is the smallest network a home, a phone or a
// server is usually given, so its owner holds every address in it.
const DefaultIPv6Prefix = 64

// ParseHop parses one hop of X-Forwarded-For: an IPv4 or IPv6 address,
// bare or with a port ("192.0.2.1:443"), or an IPv6 address in brackets
// with or without a port ("[2001:db8::1]", "[2001:db8::1]:443"), as
// proxies write them. Spaces around it are ignored, an IPv4-mapped IPv6
// address becomes IPv4 and an IPv6 zone is dropped. Returns an error for
// anything else ("unknown", a host name, a bracketed IPv4 address).
func ParseHop(hop string) (netip.Addr, error) {
	s := strings.TrimSpace(hop)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return a.Unmap().WithZone(""), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("X-Forwarded-For hop %q is not an address", hop)
}

// Key returns the key per-address limits count ip under: an IPv4 address
// itself, and the network of an IPv6 address's first v6Prefix bits in CIDR
// form ("2001:db8:1:2::/64"), so that one client cannot take a fresh
// budget from each of the addresses it holds. v6Prefix outside 1 to 128
// means DefaultIPv6Prefix. A string that is not an address is its own key.
func Key(ip string, v6Prefix int) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	if v6Prefix < 1 || v6Prefix > 128 {
		v6Prefix = DefaultIPv6Prefix
	}
	p, _ := a.Prefix(v6Prefix) // cannot fail: a is IPv6 without a zone, 1 <= v6Prefix <= 128
	return p.String()
}
