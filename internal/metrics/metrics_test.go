package metrics_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
	"bitgate/internal/metrics"
)

func TestMain(m *testing.M) { apitest.Main(m) }

// TestMetrics makes requests of every kind of outcome, scrapes the metrics
// and finds each counted under its root field and code, the security
// events, the hashing pool, the database pool and Go's runtime, and no
// label a client chose.
func TestMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	c := apitest.New(t, apitest.Options{Metrics: m, AuthRate: 0.001, AuthBurst: 3})
	u := c.SignUp(t)
	c.Me(t, u.Token)
	for range 3 {
		apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(apitest.Email(), "not the password")), "UNAUTHENTICATED")
	}
	apitest.RequireCode(t, c.Do(t, "", apitest.OpSignIn, apitest.Credentials(apitest.Email(), "not the password")), "RATE_LIMITED")
	apitest.RequireCode(t, c.Do(t, "", `query ClientChosenName { me { id } }`, nil), "UNAUTHENTICATED")
	apitest.RequireCode(t, c.Do(t, "", `{ clientChosenField }`, nil), "GRAPHQL_VALIDATION_FAILED")
	apitest.RequireTransportError(t, c.Raw(t, http.MethodPost, "/graphql", http.Header{"Content-Type": {"text/plain"}}, []byte("{}")), http.StatusUnsupportedMediaType)
	c.Readyz(t)

	text := scrape(t, m)
	value := func(series string) float64 {
		t.Helper()
		match := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
		require.NotNil(t, match, "no series %s in:\n%s", series, text)
		v, err := strconv.ParseFloat(match[1], 64)
		require.NoError(t, err)
		return v
	}
	for series, want := range map[string]float64{
		`bitgate_graphql_request_duration_seconds_count{code="OK",operation="signup"}`:                        1,
		`bitgate_graphql_request_duration_seconds_count{code="OK",operation="me"}`:                            1,
		`bitgate_graphql_request_duration_seconds_count{code="UNAUTHENTICATED",operation="signin"}`:           3,
		`bitgate_graphql_request_duration_seconds_count{code="RATE_LIMITED",operation="signin"}`:              1,
		`bitgate_graphql_request_duration_seconds_count{code="UNAUTHENTICATED",operation="me"}`:               1,
		`bitgate_graphql_request_duration_seconds_count{code="GRAPHQL_VALIDATION_FAILED",operation="(none)"}`: 1,
		`bitgate_graphql_request_duration_seconds_count{code="HTTP_415",operation="(none)"}`:                  1,
		`bitgate_security_events_total{event="signup"}`:                                                       1,
		`bitgate_security_events_total{event="signin.failed"}`:                                                3,
		`bitgate_hash_wait_seconds_count`:                                                                     4, // a hash and three dummy checks
		`bitgate_hash_refused_total`:                                                                          0,
		`bitgate_hash_queue_length`:                                                                           0,
		`bitgate_hash_workers_busy`:                                                                           0,
	} {
		require.Equal(t, want, value(series), series)
	}
	require.Positive(t, value(`go_sql_max_open_connections{db_name="bitgate"}`)+value(`go_sql_open_connections{db_name="bitgate"}`), "the database pool")
	require.Positive(t, value(`go_goroutines`), "Go's runtime")
	require.NotContains(t, text, "ClientChosen", "a label value a client chose")
	require.NotContains(t, text, "clientChosen", "a label value a client chose")
	require.NotContains(t, text, "readyz", "the probes are not timed")
}

// TestMetricsCountHangUpsApart: a request whose client hung up before its
// answer counts as CLIENT_CLOSED, not as the SERVICE_UNAVAILABLE it was
// answered (nobody read it). Before, a load generator closing its
// connections looked like a database outage: thousands of
// SERVICE_UNAVAILABLE a second with the database well.
func TestMetricsCountHangUpsApart(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	c := apitest.New(t, apitest.Options{Metrics: m, DBTimeout: time.Minute})
	c.LockWrites(t)
	c.HangUp(t, 300*time.Millisecond, "", apitest.OpSignUp, apitest.Vars{"in": apitest.SignUpInput(apitest.Email())})

	const hungUp = `bitgate_graphql_request_duration_seconds_count{code="CLIENT_CLOSED",operation="signup"} 1`
	var text string
	require.Eventually(t, func() bool { text = scrape(t, m); return strings.Contains(text, hungUp) }, 10*time.Second, 10*time.Millisecond,
		"no %s", hungUp)
	require.NotContains(t, text, `code="SERVICE_UNAVAILABLE"`)
}

// scrape returns the text m serves at /metrics.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	r, err := apitest.Serve(t, m.Handler()).Send(http.MethodGet, "/metrics", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	return string(r.Body)
}
