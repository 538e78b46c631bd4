// Package metrics is the server's Prometheus instrumentation: GraphQL
// requests by operation and outcome, security events, the password-hashing
// pool, account mail, the database pool and Go's runtime, in a registry of
// its own that Handler serves (on METRICS_ADDR only). Every label takes
// values from a fixed set: operations are the schema's root fields, never
// the names clients give their operations.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"bitgate/internal/auth"
)

// Metrics are the server's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.HistogramVec
	events     *prometheus.CounterVec
	hashWait   prometheus.Histogram
	hashRefuse prometheus.Counter

	mailQueued, mailSent, mailRetried, mailDropped *prometheus.CounterVec
}

// latencyBuckets span a cached read (1 ms) to a queued sign-in (10 s).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics with Go's runtime and the process registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bitgate_graphql_request_duration_seconds",
			Help:    "GraphQL requests by operation (the first root field; (none) when the request named none the schema has) and outcome (the first error's code, OK, HTTP_<status> when the HTTP layer refused it, or CLIENT_CLOSED when the client hung up first), from the request's arrival to its answer.",
			Buckets: latencyBuckets,
		}, []string{"operation", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bitgate_security_events_total",
			Help: "Security events as audited: signup, signin, signin.failed, signin.locked, refresh.reuse_detected, signout, user.*.",
		}, []string{"event"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bitgate_hash_wait_seconds",
			Help:    "How long password hashes waited for a slot in the hashing pool.",
			Buckets: latencyBuckets,
		}),
		hashRefuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bitgate_hash_refused_total",
			Help: "Password hashes refused because the hashing pool's queue was full (answered RATE_LIMITED).",
		}),
		mailQueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bitgate_mail_queued_total",
			Help: "Account mail queued by a transaction that committed, by kind (verify-email, reset-password, ...).",
		}, []string{"kind"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bitgate_mail_sent_total",
			Help: "Account mail the SMTP server accepted (or, without SMTP_URL in development, written to a file), by kind.",
		}, []string{"kind"}),
		mailRetried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bitgate_mail_retried_total",
			Help: "Attempts to send account mail that failed for a temporary reason (a 4xx, the server unreachable, TLS or authentication failing), each followed by another, by kind.",
		}, []string{"kind"}),
		mailDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bitgate_mail_dropped_total",
			Help: "Account mail given up, by kind and reason: rejected (the SMTP server refused the recipient or the message for good, 5xx), expired (not delivered within MAIL_GIVE_UP_AFTER) or link-expired (not delivered before its link's token expired).",
		}, []string{"kind", "reason"}),
	}
	m.reg.MustRegister(m.requests, m.events, m.hashWait, m.hashRefuse,
		m.mailQueued, m.mailSent, m.mailRetried, m.mailDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchDB exports db's pool statistics (go_sql_*{db_name="bitgate"}).
func (m *Metrics) WatchDB(db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, "bitgate"))
}

// WatchHashQueue exports the hashing pool's queue as it is at each
// scrape: queue returns the calls waiting for a slot and the slots taken.
func (m *Metrics) WatchHashQueue(queue func() (waiting, busy int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bitgate_hash_queue_length",
			Help: "Password hashes waiting for a slot in the hashing pool.",
		}, func() float64 { waiting, _ := queue(); return float64(waiting) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bitgate_hash_workers_busy",
			Help: "Slots of the hashing pool taken by a hash.",
		}, func() float64 { _, busy := queue(); return float64(busy) }),
	)
}

// HashWaited records how a call asked for a hashing slot (see
// auth.ObserveWaits): how long it waited when it got one, a refusal when
// the queue was full, nothing when its context ended first.
func (m *Metrics) HashWaited(waited time.Duration, err error) {
	switch {
	case err == nil:
		m.hashWait.Observe(waited.Seconds())
	case errors.Is(err, auth.ErrBusy):
		m.hashRefuse.Inc()
	}
}

// MailQueued counts a mail of kind queued by a committed transaction.
func (m *Metrics) MailQueued(kind string) { m.mailQueued.WithLabelValues(kind).Inc() }

// MailSent counts a mail of kind delivered.
func (m *Metrics) MailSent(kind string) { m.mailSent.WithLabelValues(kind).Inc() }

// MailRetried counts a failed attempt to send a mail of kind that will be
// retried.
func (m *Metrics) MailRetried(kind string) { m.mailRetried.WithLabelValues(kind).Inc() }

// MailDropped counts a mail of kind given up for reason.
func (m *Metrics) MailDropped(kind, reason string) { m.mailDropped.WithLabelValues(kind, reason).Inc() }

// SecurityEvent counts an audited action.
func (m *Metrics) SecurityEvent(action string) { m.events.WithLabelValues(action).Inc() }

// codeClientClosed is the code of a request whose client hung up before
// its answer.
const codeClientClosed = "CLIENT_CLOSED"

// outcome is what the GraphQL extension learns of a request, for the HTTP
// middleware that times it.
type outcome struct{ operation, code string }

type outcomeKey struct{}

// Instrument times the requests to /graphql that next answers, labelled
// with what GraphQLExtension found; other paths (the probes) pass
// untimed.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/graphql" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		o := &outcome{operation: "(none)"}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, ctx: r.Context()}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o)))
		switch {
		case sw.gone || !sw.wrote && clientGone(r.Context()):
			// Whatever it was answered says nothing of the server's health.
			o.code = codeClientClosed
		case o.code == "": // GraphQL never answered: the HTTP layer did
			o.code = "HTTP_" + strconv.Itoa(sw.status)
		}
		m.requests.WithLabelValues(o.operation, o.code).Observe(time.Since(start).Seconds())
	})
}

// clientGone reports whether the client of the request of ctx hung up:
// net/http cancels the context then with no other cause (a shutdown gives
// its own).
func clientGone(ctx context.Context) bool { return context.Cause(ctx) == context.Canceled }

// statusWriter remembers the status of a response, and whether its client
// had hung up when it was written.
type statusWriter struct {
	http.ResponseWriter
	status int
	ctx    context.Context // the request's
	wrote  bool
	gone   bool
}

func (w *statusWriter) WriteHeader(status int) {
	w.status, w.wrote, w.gone = status, true, clientGone(w.ctx)
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// GraphQLExtension returns the gqlgen extension that names a request's
// operation and outcome for Instrument.
func (m *Metrics) GraphQLExtension() graphql.HandlerExtension { return extension{} }

type extension struct{}

func (extension) ExtensionName() string                   { return "Metrics" }
func (extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse records the request's root field and the code of its
// first error (OK without one).
func (extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	o, ok := ctx.Value(outcomeKey{}).(*outcome)
	if !ok {
		return resp
	}
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil {
			o.operation = rootField(op.SelectionSet)
		}
	}
	o.code = "OK"
	if resp != nil && len(resp.Errors) > 0 {
		o.code = "(none)"
		if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
			o.code = code
		}
	}
	return resp
}

// rootField returns the name of the first field of a validated selection
// (through fragments), or (none): a field that validation did not find in
// the schema has no definition, so no client-made name gets through.
func rootField(set ast.SelectionSet) string {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Definition != nil {
				return sel.Name
			}
		case *ast.InlineFragment:
			if name := rootField(sel.SelectionSet); name != "(none)" {
				return name
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				if name := rootField(sel.Definition.SelectionSet); name != "(none)" {
					return name
				}
			}
		}
	}
	return "(none)"
}
