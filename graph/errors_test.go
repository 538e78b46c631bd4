package graph_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/graph"
	"bitgate/internal/apitest"
	"bitgate/internal/database"
)

// TestPanicIsRecovered makes a resolver panic (the handler is built
// without its account service) and expects a coded internal error, no
// stack trace, and a server that still answers.
func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	client, err := database.Open(context.Background(), "file:"+filepath.Join(t.TempDir(), "p.db"), database.Pool{})
	require.NoError(t, err)
	defer client.Close()
	var log strings.Builder
	h := graph.NewHandler(graph.HandlerConfig{Client: client, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ts := httptest.NewServer(h)
	defer ts.Close()
	s := &apitest.Server{URL: ts.URL, HTTP: ts.Client()}

	r := s.Query(t, "", `mutation { signin(email: "a@b.co", password: "whatever1") { accessToken } }`, nil)
	require.Equal(t, "INTERNAL_SERVER_ERROR", r.Code(), "%s", r.Body)
	require.Contains(t, log.String(), "panic in resolver", "the panic is logged")

	r = s.Query(t, "", `{ book(id: "01a2177f-606e-77d7-9919-4dedd94e9e5a") { id } }`, nil)
	require.Empty(t, r.Errors, "the server still answers: %s", r.Body)
}

// TestInternalErrorsHideDetail breaks the database under a running server:
// queries answer INTERNAL_SERVER_ERROR without the driver's message, and
// /readyz answers 503 while /healthz still answers 200.
func TestInternalErrorsHideDetail(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "broken@example.com")
	require.Equal(t, http.StatusOK, s.Raw(t, http.MethodGet, "/readyz", nil, nil).Status)

	require.NoError(t, s.Client.Close())
	r := s.Query(t, p.AccessToken, `{ books { totalCount } }`, nil)
	require.Equal(t, "INTERNAL_SERVER_ERROR", r.Code(), "%s", r.Body)
	require.NotContains(t, strings.ToLower(string(r.Body)), "sql", "driver detail leaked: %s", r.Body)
	require.Equal(t, http.StatusServiceUnavailable, s.Raw(t, http.MethodGet, "/readyz", nil, nil).Status)
	require.Equal(t, http.StatusOK, s.Raw(t, http.MethodGet, "/healthz", nil, nil).Status)
}
