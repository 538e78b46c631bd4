package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimitInFlight sends 20 requests at once through a limit of 3 to a
// handler that holds each until released. Once every request has gone as
// far as it can (synctest.Wait: all of them blocked, in the handler or
// waiting for a slot), exactly 3 are running; all 20 are answered once
// released, never more than 3 at a time.
func TestLimitInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var running, most, answered atomic.Int64
		release := make(chan struct{})
		h := limitInFlight(3, refused, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			running.Add(-1)
			w.WriteHeader(http.StatusTeapot)
		}))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				if w.Code == http.StatusTeapot {
					answered.Add(1)
				}
			})
		}
		synctest.Wait()
		require.EqualValues(t, 3, running.Load(), "requests running once all are blocked")
		close(release)
		wg.Wait()
		require.EqualValues(t, 20, answered.Load(), "requests answered")
		require.EqualValues(t, 3, most.Load(), "requests running at once")
		time.Sleep(workerIdle) // on the bubble's clock, which moves at once: the idle workers end
	})
}

// TestLimitInFlightReusesWorkers serves requests one after another: they
// run on one worker goroutine, not on the caller's and not on a new one
// each (which would grow a fresh stack for every request).
func TestLimitInFlightReusesWorkers(t *testing.T) {
	t.Parallel()
	var callers, workers []string
	h := limitInFlight(4, refused, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		workers = append(workers, goroutineID())
	}))
	for range 50 {
		callers = append(callers, goroutineID())
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	require.Len(t, workers, 50)
	require.NotEqual(t, callers[0], workers[0], "the request ran on the caller's goroutine")
	// A worker signals its request done just before it waits for the
	// next, so the next may now and then find none idle and start one.
	slices.Sort(workers)
	require.LessOrEqual(t, len(slices.Compact(workers)), 3, "workers of 50 requests in turn")
}

// TestLimitInFlightPanics re-panics on the caller's goroutine with what
// the handler panicked with (net/http's ErrAbortHandler, say), so that
// net/http treats it as the handler's own; the worker survives it.
func TestLimitInFlightPanics(t *testing.T) {
	t.Parallel()
	fail := true
	h := limitInFlight(1, refused, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail {
			panic(http.ErrAbortHandler)
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})
	fail = false
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusTeapot, w.Code, "served after the panic (the slot was released)")
}

// TestLimitInFlightWaitEnds ends the wait of a request for the only slot:
// a passed deadline, or a shutdown's cancellation, is refused with
// SERVICE_UNAVAILABLE (errBusy, 503); a client that went away is not
// answered.
func TestLimitInFlightWaitEnds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	h := limitInFlight(1, refused, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	<-started // the only slot is taken

	for _, tc := range []struct {
		name     string
		cause    error
		answered bool
	}{
		{"deadline", context.DeadlineExceeded, true},
		{"shutdown", fmt.Errorf("shutting down: %w", context.Canceled), true},
		{"client gone", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(tc.cause)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			if !tc.answered {
				require.Empty(t, w.Body.String(), "answered a client that went away")
				return
			}
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			require.Equal(t, errBusy.Error(), w.Body.String())
			require.Equal(t, 5, errBusy.RetryAfter)
		})
	}
}

// TestLimitInFlightAdmitsBeforeCancelling serves a request whose context
// ended when a slot is free: what runs next answers it (as cancelled),
// where a random pick between the slot and the ended context left some
// unanswered (EOF) at a shutdown.
func TestLimitInFlightAdmitsBeforeCancelling(t *testing.T) {
	t.Parallel()
	h := limitInFlight(1, refused, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		require.Equal(t, http.StatusTeapot, w.Code)
	}
}

// refused answers a refusal of the HTTP layer with its status and its
// error's message (the endpoint words it in its own shape: graph.Server).
func refused(w http.ResponseWriter, _ *http.Request, status int, err error) {
	w.WriteHeader(status)
	_, _ = io.WriteString(w, err.Error())
}

// goroutineID returns the id of the calling goroutine, from its stack
// trace's first line ("goroutine 42 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}
