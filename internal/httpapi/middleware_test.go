package httpapi

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecurityHeadersAreNotSharedByWrites checks that what a handler does
// to a security header of its response (add a value, replace one, delete
// it) leaves the headers of the next response as they were, although the
// responses share the value slices; with -race, also that concurrent
// responses adding to them do not write to the same memory.
func TestSecurityHeadersAreNotSharedByWrites(t *testing.T) {
	h := securityHeaders(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			w.Header().Add("Cache-Control", "private")
			w.Header().Add("Strict-Transport-Security", "preload")
		case "/set":
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		case "/del":
			w.Header().Del("Content-Security-Policy")
		}
	}))
	want := http.Header{
		"X-Content-Type-Options":     {"nosniff"},
		"Referrer-Policy":            {"no-referrer"},
		"X-Frame-Options":            {"DENY"},
		"Cross-Origin-Opener-Policy": {"same-origin"},
		"Content-Security-Policy":    {cspAPI},
		"Cache-Control":              {"no-store"},
		"Strict-Transport-Security":  {"max-age=63072000; includeSubDomains"},
	}
	for _, path := range []string{"/add", "/set", "/del", "/"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if path == "/" {
			require.Equal(t, want, w.Header())
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/add", nil))
			assert.Equal(t, []string{"no-store", "private"}, w.Header()["Cache-Control"])
		})
	}
	wg.Wait()
}
