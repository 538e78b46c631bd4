package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"
)

// workerIdle is how long a worker of limitInFlight waits for another
// request before it ends.
const workerIdle = 10 * time.Second

// limitInFlight lets at most n requests into next at once; the others wait
// for a slot, holding only their connection and their (size-limited) body.
// A request whose client goes away while it waits is dropped unanswered;
// one whose deadline passes (REQUEST_TIMEOUT, see withDeadline) or that a
// shutdown cancels is answered SERVICE_UNAVAILABLE (503, Retry-After).
//
// next runs on a worker goroutine, not on the connection's: a connection's
// goroutine lives as long as the keep-alive connection, and with thousands
// of open connections their stacks, grown to the depth of a GraphQL
// execution, were most of the server's memory. The workers (about n at
// most, fewer under less load) keep their grown stacks from one request
// to the next, where a goroutine per request grew its stack anew each
// time (a tenth of the CPU under load).
func limitInFlight(n int, refuse refuseFunc, next http.Handler) http.Handler {
	return &inFlight{next: next, refuse: refuse, slots: make(chan struct{}, n), idle: make(chan *call)}
}

// inFlight is the handler of limitInFlight.
type inFlight struct {
	next   http.Handler
	refuse refuseFunc // answers errBusy
	slots  chan struct{}
	idle   chan *call // receives on idle workers
}

// call is a request handed to a worker; done receives what next panicked
// with, or nil.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

// ServeHTTP waits for a slot, hands the request to an idle worker or a new
// one, and waits for it to be served.
func (l *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.admit(r.Context()) {
		// A client that went away cancels with context.Canceled itself;
		// a deadline or a shutdown (its own cause) is answered.
		if context.Cause(r.Context()) != context.Canceled {
			l.refuse(w, r, http.StatusServiceUnavailable, errBusy)
		}
		return
	}
	defer func() { <-l.slots }()
	c := &call{w: w, r: r, done: make(chan any, 1)}
	select {
	case l.idle <- c:
	default:
		go l.work(c)
	}
	if p := <-c.done; p != nil {
		panic(p) // for net/http to handle as the handler's own
	}
}

// admit takes a slot, waiting until one is free or ctx ends, and reports
// whether it took one. A free slot is taken even if ctx has ended, so that
// what runs next answers the request as a cancelled one.
func (l *inFlight) admit(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// work serves c, then the calls handed to it, until none comes for
// workerIdle.
func (l *inFlight) work(c *call) {
	timer := time.NewTimer(workerIdle)
	defer timer.Stop()
	for {
		c.done <- l.serve(c)
		timer.Reset(workerIdle)
		select {
		case c = <-l.idle:
		case <-timer.C:
			return
		}
	}
}

// serve runs next for c and returns what it panicked with, or nil.
func (l *inFlight) serve(c *call) (p any) {
	defer func() {
		// ServeHTTP panics again on the connection's goroutine, whose stack
		// net/http logs: keep the worker's, where the fault is.
		if p = recover(); p != nil && p != http.ErrAbortHandler {
			p = fmt.Sprintf("%v\n\npanicked on a worker goroutine:\n%s", p, debug.Stack())
		}
	}()
	l.next.ServeHTTP(c.w, c.r)
	return nil
}
