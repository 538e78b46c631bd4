package main

import (
	"context"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// server is bitgate served by its own serve path on a port of its own.
type server struct {
	url  string
	addr string
	// metricsURL is where /metrics is served, with -metrics-addr.
	metricsURL string
	log        *apitest.Log
	// signal ends the serve context, as SIGTERM does.
	signal context.CancelFunc
	// reached counts the requests that reached the server's handler: read
	// whole, past the listener and the kernel's queue of connections.
	reached atomic.Int32

	stopped chan struct{} // closed when serveUntil returned err
	err     error
}

// wait waits for serveUntil to return, and returns its error.
func (s *server) wait() error {
	<-s.stopped
	return s.err
}

// startServer runs bitgate with the settings in args on a fresh data
// directory and a free port: the server serve builds, served by
// serveUntil, which serve calls once it handles the signals.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerOn(t, nil, args...)
}

// startServerOn is startServer serving on ln instead of -addr when ln is
// not nil: a port taken before the settings that name it.
func startServerOn(t *testing.T, ln net.Listener, args ...string) *server {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-data-dir", t.TempDir(), "-log-level", "debug"}, args...)
	cfg, err := parseConfig("bitgate", args, func(string) string { return "" }, nil)
	require.NoError(t, err)
	s := &server{log: &apitest.Log{}, stopped: make(chan struct{})}
	log := newLogger(cfg, s.log)
	ctx, cancel := context.WithCancel(context.Background())
	s.signal = cancel
	a, err := newApp(ctx, cfg, log)
	require.NoError(t, err)
	h := a.Handler
	a.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reached.Add(1)
		h.ServeHTTP(w, r)
	})
	lns := listeners{api: ln}
	if ln == nil {
		lns, err = listen(cfg)
		require.NoError(t, err)
	}
	s.addr = lns.api.Addr().String()
	s.url = "http://" + s.addr
	if lns.metrics != nil {
		s.metricsURL = "http://" + lns.metrics.Addr().String()
	}
	go func() {
		s.err = serveUntil(ctx, a, lns, cfg, log)
		close(s.stopped)
	}()
	t.Cleanup(func() {
		cancel()
		_ = s.wait()
	})
	return s
}

// TestMetricsAddr serves the metrics on METRICS_ADDR: /metrics answers
// there, with the server's series, and nowhere else.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-metrics-addr", "127.0.0.1:0")
	api := apitest.Connect(t, s.url)
	api.SignUp(t)

	r, err := apitest.Connect(t, s.metricsURL).Send(http.MethodGet, "/metrics", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), `bitgate_graphql_request_duration_seconds_count{code="OK",operation="signup"} 1`)
	require.Contains(t, string(r.Body), `go_sql_open_connections{db_name="bitgate"}`)

	require.Equal(t, http.StatusNotFound, api.Raw(t, http.MethodGet, "/metrics", nil, nil).Status, "/metrics on the API's address")
	r, err = apitest.Connect(t, s.metricsURL).Send(http.MethodGet, "/graphql", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, r.Status, "the API on the metrics address")
}

// TestNoMetricsByDefault: without METRICS_ADDR nothing serves metrics.
func TestNoMetricsByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	require.Empty(t, s.metricsURL)
	require.Equal(t, http.StatusNotFound, apitest.Connect(t, s.url).Raw(t, http.MethodGet, "/metrics", nil, nil).Status)
}

// TestGCPercent: the server collects at 400% heap growth unless GOGC says
// otherwise. (Not parallel: the setting is the process's.)
func TestGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	setGCPercent(func(k string) string { return map[string]string{"GOGC": "50"}[k] })
	require.Equal(t, 100, debug.SetGCPercent(100), "with GOGC set, the runtime's setting stays")
	setGCPercent(func(string) string { return "" })
	require.Equal(t, serverGCPercent, debug.SetGCPercent(100), "GOGC unset")
}

// TestMemoryLimit: unless GOMEMLIMIT is set, the server runs under a soft
// memory limit of 150 MiB, or 90% of its container's limit when that is
// less. (Not parallel: the setting is the process's.) Before, it ran
// without one, and GOGC=400 let it grow to 233 MB under the load
// program's books load.
func TestMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	noContainer := func() (uint64, error) { return 0, memlimit.ErrNoLimit }
	container := func(n uint64) func() (uint64, error) { return func() (uint64, error) { return n, nil } }
	unset := func(string) string { return "" }

	debug.SetMemoryLimit(1 << 40)
	got := setMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1TiB"}[k] }, container(100<<20))
	require.Equal(t, memoryLimit{bytes: 1 << 40, from: "GOMEMLIMIT"}, got, "with GOMEMLIMIT set, the runtime's setting stays")
	require.Equal(t, int64(1<<40), debug.SetMemoryLimit(-1))

	for _, tc := range []struct {
		name    string
		cgroup  func() (uint64, error)
		want    int64
		wantSrc string
	}{
		{"no container limit", noContainer, 150 << 20, "default"},
		{"a container of 100 MiB", container(100 << 20), 90 << 20, "container"},
		{"a container of 4 GiB", container(4 << 30), 150 << 20, "default"},
	} {
		got := setMemoryLimit(unset, tc.cgroup)
		require.Equal(t, memoryLimit{bytes: tc.want, from: tc.wantSrc}, got, tc.name)
		require.Equal(t, tc.want, debug.SetMemoryLimit(-1), tc.name)
	}
}
