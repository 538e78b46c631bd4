package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/content"
)

// ServerConfig is what NewServer serves.
type ServerConfig struct {
	Client   *ent.Client
	Accounts *account.Service
	Content  *content.Service
	Logger   *slog.Logger
	// Introspection answers __schema and __type (off in production).
	Introspection bool
	// Limits bound depth, fields, complexity and auth mutations per request.
	Limits Limits
}

// NewServer returns the GraphQL endpoint: the schema over GET and POST,
// with a query cache, the operation limits, the error presenter and panic
// recovery. It expects the request's viewer in the context (see
// account.WithViewer).
func NewServer(cfg ServerConfig) *handler.Server {
	limits := cfg.Limits.withDefaults()
	srv := handler.New(NewSchema(cfg.Client, cfg.Accounts, cfg.Content))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(maxTokens)
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(operationLimits{
		maxDepth: limits.MaxDepth, maxAuth: limits.MaxAuthFields, maxFields: limits.MaxFields,
		introspection: cfg.Introspection, cache: cache,
	})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	srv.SetErrorPresenter(errorPresenter(cfg.Logger))
	srv.SetRecoverFunc(recoverFunc(cfg.Logger))
	return srv
}
