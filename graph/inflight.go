package graph

import "net/http"

// DefaultMaxInFlight bounds the requests that run GraphQL at once. It is
// well above what two cores and a pool of 20 database connections serve
// at once, and above the sign-ins the hashing queue may hold waiting
// (HASH_QUEUE, 128 by default), so that they never keep reads out.
const DefaultMaxInFlight = 256

// limitInFlight lets at most n requests into next at once. The others wait
// for a slot holding only their connection and their (size-limited) body,
// not the memory of a GraphQL execution and a database wait, so that
// thousands of open connections cost little more than their sockets. A
// request whose client goes away while it waits is dropped unanswered.
func limitInFlight(n int, next http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}
