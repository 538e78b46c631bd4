package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"bitgate/internal/account"
	"bitgate/internal/clientip"
)

// cspAPI allows nothing at all; the playground's page sets its own policy
// (internal/playground).
const cspAPI = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets the headers every response carries; answers are
// never cached unless a handler says otherwise (the playground's assets).
func securityHeaders(tls bool, next http.Handler) http.Handler {
	fixed := []struct {
		key    string
		values []string
	}{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Content-Security-Policy", []string{cspAPI}},
		{"Cache-Control", []string{"no-store"}},
	}
	if tls {
		fixed = append(fixed, struct {
			key    string
			values []string
		}{"Strict-Transport-Security", []string{"max-age=63072000; includeSubDomains"}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every response shares these value slices (keys in canonical
		// form), where Header.Set would allocate one per header and
		// request: Header's methods replace a slice or append to it, never
		// write into it, and a slice of one value appends into a copy.
		h := w.Header()
		for _, f := range fixed {
			h[f.key] = f.values
		}
		next.ServeHTTP(w, r)
	})
}

// requestIDPattern is what a caller-supplied X-Request-ID must look like to
// be kept (it ends up in logs).
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// identify records who the client is: its address (from the connection, or
// from X-Forwarded-For when the peer is a trusted proxy), its user agent
// and a request id, which the response echoes in X-Request-ID.
func identify(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := account.WithRequestInfo(r.Context(), account.RequestInfo{
			IP: clientIP(r, trusted), UserAgent: r.UserAgent(), RequestID: id,
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientIP returns the connection's peer address, or, when the peer is a
// trusted proxy, the right-most address of X-Forwarded-For that is not a
// trusted proxy itself (hops may carry a port: clientip.ParseHop).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := clientip.ParseHop(hops[i])
		if err != nil {
			break // a malformed hop: trust nothing before it
		}
		if !isTrusted(hop, trusted) {
			return hop.String()
		}
	}
	return addr.String()
}

// isTrusted reports whether addr is in one of the trusted prefixes.
func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// withDeadline ends the request's context after d, so that whatever it
// waits for (the database, the hashing pool, a sign-in's lockout attempt)
// gives up and the request is answered (SERVICE_UNAVAILABLE, or
// RATE_LIMITED for a sign-in that found no attempt or hashing slot) before
// the client or a proxy gives up on it.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
