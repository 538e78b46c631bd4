// Package httpapi is the server's HTTP layer: routes, the limits of a
// request (its body's size, its deadline, the requests running at once),
// client identity, authentication of bearer tokens, security headers,
// CORS, and the health probes. GraphQL itself, reading its requests and
// answering errors included, is the Endpoint it is given.
package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/rs/cors"

	"bitgate/internal/account"
	"bitgate/internal/apperr"
	"bitgate/internal/playground"
)

// Endpoint is what the HTTP layer serves at /graphql (graph.Server).
type Endpoint interface {
	// ServeHTTP serves a request the HTTP layer let through: its body
	// read within the limit, its caller authenticated.
	http.Handler
	// Refuse answers a request the HTTP layer refuses before the endpoint
	// reads it (a body over the limit, no place to run) with status and
	// err, as the endpoint answers its own errors.
	Refuse(w http.ResponseWriter, r *http.Request, status int, err error)
}

// Config is what New serves. Its tagged fields are settings (see
// internal/settings), with their defaults; the others are filled in by
// the caller.
type Config struct {
	// GraphQL serves /graphql once the request's body is read and its
	// caller authenticated, and words the refusals of the others.
	GraphQL Endpoint
	// Accounts authenticates bearer tokens.
	Accounts *account.Service
	// Ready reports whether the server can serve (/readyz): nil when it
	// can, else an error whose message, safe to show, says why.
	Ready  func(context.Context) error
	Logger *slog.Logger
	// Production turns off the playground.
	Production bool
	// TLS adds Strict-Transport-Security.
	TLS bool
	// JWKS, if set, serves GET /.well-known/jwks.json.
	JWKS http.Handler

	// MaxBodyBytes limits a request body (413 past it).
	MaxBodyBytes int64 `flag:"max-body-bytes" env:"MAX_BODY_BYTES" default:"1048576" help:"request body limit"`
	// RequestTimeout is how long a GraphQL request may take once its body
	// is read, its wait for a place among MaxInFlight included (see
	// withDeadline).
	RequestTimeout time.Duration `flag:"request-timeout" env:"REQUEST_TIMEOUT" default:"30s" help:"how long a GraphQL request may run before it is answered SERVICE_UNAVAILABLE"`
	// MaxInFlight bounds the requests running GraphQL at once (see
	// limitInFlight). Its default is well above what two cores and a pool
	// of 20 database connections serve at once, and above the sign-ins the
	// hashing queue may hold waiting (HASH_QUEUE, 128 by default), so that
	// they never keep reads out.
	MaxInFlight int `flag:"max-in-flight" env:"MAX_IN_FLIGHT" default:"256" help:"requests running GraphQL at once; others wait for a slot"`
	// CORSOrigins may call the API from a browser; none by default. Each
	// is an exact origin (see Validate).
	CORSOrigins []string `flag:"cors-origins" env:"CORS_ORIGINS" help:"origins allowed to call the API from a browser"`
	// TrustedProxies may set X-Forwarded-For; none by default.
	TrustedProxies []netip.Prefix `flag:"trusted-proxies" env:"TRUSTED_PROXIES" help:"addresses or CIDRs of proxies whose X-Forwarded-For is believed"`
}

// Validate returns an error naming the first setting of c that cannot
// work: a limit or a timeout that is not positive, or a CORS origin that
// is not exact (see checkOrigin).
func (c *Config) Validate() error {
	switch {
	case c.MaxBodyBytes <= 0:
		return errors.New("MAX_BODY_BYTES must be positive")
	case c.RequestTimeout <= 0:
		return errors.New("REQUEST_TIMEOUT must be positive")
	case c.MaxInFlight <= 0:
		return errors.New("MAX_IN_FLIGHT must be positive")
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("CORS_ORIGINS: %w", err)
		}
	}
	return nil
}

// New returns the server's whole HTTP handler: POST and GET /graphql
// behind authentication, the playground on / (outside production),
// /healthz and /readyz, and the JWKS when there is one. cfg must be
// valid (see Config.Validate).
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	gql := cfg.GraphQL
	mux.Handle("/graphql", readBody(cfg.MaxBodyBytes, gql.Refuse, withDeadline(cfg.RequestTimeout, limitInFlight(cfg.MaxInFlight, gql.Refuse, authenticate(cfg.Accounts, gql)))))
	if !cfg.Production {
		pg := playground.Handler("/graphql")
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.Prefix, pg)
	}
	if cfg.JWKS != nil {
		mux.Handle("GET /.well-known/jwks.json", cfg.JWKS)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	var h http.Handler = mux
	if len(cfg.CORSOrigins) > 0 { // rs/cors takes an empty list as "allow all"
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: corsAllowedHeaders,
			ExposedHeaders: []string{"X-Request-ID"},
			MaxAge:         600,
		}).Handler(mux)
	}
	return securityHeaders(cfg.TLS, identify(cfg.TrustedProxies, h))
}

// authenticate resolves the request's Authorization header into a viewer,
// or a refusal, before GraphQL runs.
func authenticate(accounts *account.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		var v *account.Viewer
		err := error(errMalformedAuthorization)
		if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			v, err = accounts.Authenticate(r.Context(), strings.TrimSpace(token))
		}
		next.ServeHTTP(w, r.WithContext(account.WithViewer(r.Context(), v, err)))
	})
}

// refuseFunc answers a request the HTTP layer refuses (Endpoint.Refuse).
type refuseFunc func(w http.ResponseWriter, r *http.Request, status int, err error)

// Refusals of the body, coded as a request GraphQL cannot read.
var (
	errBodyTooLarge   = apperr.New(errcode.ParseFailed, "request body is too large")
	errBodyUnreadable = apperr.New(errcode.ParseFailed, "could not read request body")
)

// readBody reads a request's body whole, before the request waits for a
// place to run or starts its deadline, so that a slow client holds
// neither, and refuses a body over limit bytes (413) or one it cannot read
// (400). What the request says is the endpoint's to read.
func readBody(limit int64, refuse refuseFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				refuse(w, r, http.StatusRequestEntityTooLarge, errBodyTooLarge)
				return
			case err != nil:
				refuse(w, r, http.StatusBadRequest, errBodyUnreadable)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// errBusy is the answer to a request whose deadline passed before it got
// a place to run: 503 with Retry-After, as GraphQL answers an outage.
var errBusy = apperr.Unavailable("the server is busy, retry later", apperr.OutageRetry)

var errMalformedAuthorization = apperr.New(apperr.Unauthenticated, "the Authorization header must be: Bearer <accessToken>")
