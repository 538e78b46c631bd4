package httpapi

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimitInFlight sends 20 requests at once through a limit of 3 to a
// handler that holds each until released: at most 3 run at a time, and all
// 20 are answered once released.
func TestLimitInFlight(t *testing.T) {
	t.Parallel()
	var running, most, ran atomic.Int64
	release := make(chan struct{})
	h := limitInFlight(3, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		ran.Add(1)
		<-release
		running.Add(-1)
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if res, err := ts.Client().Get(ts.URL); err == nil {
				res.Body.Close()
			}
		})
	}
	require.Eventually(t, func() bool { return running.Load() >= 3 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // room for more to start, if the limit let them
	most3 := most.Load()
	close(release)
	wg.Wait()
	require.EqualValues(t, 3, most3, "requests running at once")
	require.EqualValues(t, 20, ran.Load(), "requests answered")
}
