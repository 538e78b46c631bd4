package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/apperr"
)

// DefaultMaxBodyBytes is the default limit of a request body.
const DefaultMaxBodyBytes = 1 << 20

// HandlerConfig is what NewHandler serves.
type HandlerConfig struct {
	Client   *ent.Client
	Accounts *account.Service
	Logger   *slog.Logger
	// Production turns off the playground and introspection.
	Production bool
	// MaxBodyBytes limits a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Limits bound depth, complexity and auth mutations per request.
	Limits Limits
	// CORSOrigins may call the API from a browser; none by default.
	CORSOrigins []string
	// TrustedProxies may set X-Forwarded-For; none by default.
	TrustedProxies []netip.Prefix
	// TLS adds Strict-Transport-Security.
	TLS bool
	// MaxInFlight bounds the requests running GraphQL at once; 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
}

// NewHandler returns the server's whole HTTP handler: POST and GET
// /graphql behind authentication, the playground on / (outside production),
// /healthz and /readyz.
func NewHandler(cfg HandlerConfig) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	limits := cfg.Limits.withDefaults()
	srv := handler.New(NewSchema(cfg.Client, cfg.Accounts, cfg.Logger))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(maxTokens)
	if !cfg.Production {
		srv.Use(extension.Introspection{})
	}
	srv.Use(operationLimits{
		maxDepth: limits.MaxDepth, maxAuth: limits.MaxAuthFields, maxFields: limits.MaxFields,
		introspection: !cfg.Production, cache: cache,
	})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	srv.SetErrorPresenter(errorPresenter(cfg.Logger))
	srv.SetRecoverFunc(recoverFunc(cfg.Logger))

	mux := http.NewServeMux()
	mux.Handle("/graphql", checkRequest(cfg.MaxBodyBytes, limitInFlight(cfg.MaxInFlight, authenticate(cfg.Accounts, srv))))
	if !cfg.Production {
		mux.Handle("GET /{$}", playground.Handler("bitgate", "/graphql"))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := cfg.Client.User.Query().Exist(ctx); err != nil {
			cfg.Logger.WarnContext(ctx, "readiness check failed", slog.Any("error", err))
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	var h http.Handler = mux
	if len(cfg.CORSOrigins) > 0 { // rs/cors takes an empty list as "allow all"
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-Request-ID"},
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

// checkRequest answers requests GraphQL cannot read before they reach it,
// each with a 4xx status and a JSON errors array: a method other than GET
// and POST (405), a POST body that is not JSON (415), or a body over limit
// bytes (413). It reads the body whole, so no handler reads more.
func checkRequest(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			if status, msg := checkGET(r.URL.Query()); status != 0 {
				if status == http.StatusMethodNotAllowed {
					w.Header().Set("Allow", "POST")
				}
				writeHTTPError(w, status, msg)
				return
			}
		case http.MethodPost:
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeHTTPError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			writeHTTPError(w, http.StatusMethodNotAllowed, "use GET or POST")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeHTTPError(w, http.StatusRequestEntityTooLarge, "request body is too large")
				return
			case err != nil:
				writeHTTPError(w, http.StatusBadRequest, "could not read request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// checkGET refuses, with a status and a message, the GET requests gqlgen
// would refuse without an error code: a mutation (405: GET must not change
// anything) and variables or extensions that are not a JSON object (400).
func checkGET(q url.Values) (int, string) {
	for _, param := range []string{"variables", "extensions"} {
		if v := q.Get(param); v != "" {
			var m map[string]any
			if json.Unmarshal([]byte(v), &m) != nil {
				return http.StatusBadRequest, param + " must be a JSON object"
			}
		}
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: q.Get("query")})
	if err != nil {
		return 0, "" // gqlgen answers parse errors with their code
	}
	if op := doc.Operations.ForName(q.Get("operationName")); op != nil && op.Operation != ast.Query {
		return http.StatusMethodNotAllowed, "GET runs queries only: send a " + string(op.Operation) + " with POST"
	}
	return 0, ""
}

// writeHTTPError answers a request that never reached GraphQL.
func writeHTTPError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(codeParseFailed)}}},
	})
}

var errMalformedAuthorization = apperr.New(apperr.Unauthenticated, "the Authorization header must be: Bearer <accessToken>")
