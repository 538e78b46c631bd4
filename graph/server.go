package graph

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/content"
	"bitgate/internal/database"
	"bitgate/internal/persisted"
)

// ServerConfig is what NewServer serves.
type ServerConfig struct {
	Client   *ent.Client
	Accounts *account.Service
	Content  *content.Service
	Logger   *slog.Logger
	// Outages logs the requests refused because the database is
	// unavailable, a few lines per outage; nil logs one line per error.
	Outages *database.OutageLog
	// Introspection answers __schema and __type, and lets validation
	// errors suggest names ("Did you mean …"); both map the schema, so
	// production turns it off.
	Introspection bool
	// Limits bound depth, fields, complexity and auth mutations per request.
	Limits Limits
	// Documents are the trusted documents clients may run by id; with
	// DocumentsOnly, nothing else runs.
	Documents     *persisted.Documents
	DocumentsOnly bool
	// Queries are the automatic persisted queries clients registered;
	// nil means persisted.NewQueries on Client with the defaults.
	Queries *persisted.Queries
}

// NewServer returns the GraphQL endpoint: the schema over GET and POST (see
// httpTransport), with trusted documents and automatic persisted queries,
// a query cache bounded by bytes (see queryCache), the operation limits,
// the error presenter and panic recovery. It expects the request's viewer
// in the context (see account.WithViewer).
func NewServer(cfg ServerConfig) *Server {
	limits := cfg.Limits.withDefaults()
	schema := NewSchema(cfg.Client, cfg.Accounts, cfg.Content)
	srv := handler.New(schema)
	srv.Use(&fieldMiddlewareGuard{}) // graph/gen writes in-place fields, which no field middleware sees
	present := errorPresenter(cfg.Logger, cfg.Outages)
	transport := httpTransport{present: present}
	srv.AddTransport(transport)
	cache := newQueryCache()
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(maxTokens)
	// Extensions that fill in the query run in this order, before the limits.
	srv.Use(trustedDocuments{docs: cfg.Documents, only: cfg.DocumentsOnly})
	queries := cfg.Queries
	if queries == nil {
		queries = persisted.NewQueries(cfg.Client, persisted.QueriesOptions{})
	}
	srv.Use(automaticPersistedQueries{queries: queries, logError: func(ctx context.Context, err error) {
		serverError(ctx, cfg.Logger, cfg.Outages, nil, err)
	}})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
		srv.SetValidationRulesFn(rulesWithoutSuggestions)
	}
	srv.Use(variableKinds{schema: schema.Schema()})
	srv.Use(operationLimits{
		maxDepth: limits.MaxDepth, maxAuth: limits.MaxAuthFields, maxFields: limits.MaxFields,
		maxComplexity: limits.MaxComplexity, introspection: cfg.Introspection, cache: cache,
	})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverFunc(cfg.Logger))
	return &Server{Server: srv, transport: transport}
}

// rulesWithoutSuggestions returns gqlparser's validation rules with each
// rule that appends "Did you mean …?" (naming fields, arguments, types and
// input fields the caller did not write) swapped for its variant without
// suggestions. gqlgen's SetDisableSuggestion swaps only the first and the
// fourth, and puts them back unless it is set too.
func rulesWithoutSuggestions() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, swap := range [][2]core.Rule{
		{rules.FieldsOnCorrectTypeRule, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
		{rules.KnownArgumentNamesRule, rules.KnownArgumentNamesRuleWithoutSuggestions},
		{rules.KnownTypeNamesRule, rules.KnownTypeNamesRuleWithoutSuggestions},
		{rules.ScalarLeafsRule, rules.ScalarLeafsRuleWithoutSuggestions},
		{rules.ValuesOfCorrectTypeRule, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
	} {
		r.RemoveRule(swap[0].Name)
		r.AddRule(swap[1].Name, swap[1].RuleFunc)
	}
	return r
}
