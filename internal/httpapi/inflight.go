package httpapi

import "net/http"

// DefaultMaxInFlight bounds the requests that run GraphQL at once. It is
// well above what two cores and a pool of 20 database connections serve
// at once, and above the sign-ins the hashing queue may hold waiting
// (HASH_QUEUE, 128 by default), so that they never keep reads out.
const DefaultMaxInFlight = 256

// limitInFlight lets at most n requests into next at once; the others wait
// for a slot, holding only their connection and their (size-limited) body.
// A request whose client goes away while it waits is dropped unanswered.
//
// next runs on a goroutine of its own, so that the connection's goroutine,
// which lives as long as the keep-alive connection, never grows the deep
// stack of a GraphQL execution: with thousands of open connections those
// stacks, not the heap, were most of the server's memory.
func limitInFlight(n int, next http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-slots }()
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			next.ServeHTTP(w, r)
		}()
		if p := <-done; p != nil {
			panic(p) // for net/http to handle as the handler's own
		}
	})
}
