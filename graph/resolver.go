package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"bitgate/ent"
	"bitgate/internal/account"
)

// Resolver holds the dependencies of the resolvers. It is built only by
// NewSchema.
type Resolver struct {
	client   *ent.Client
	accounts *account.Service
	log      *slog.Logger
}

// NewSchema returns the executable schema on client and accounts, with the
// @hasPermission directive and the list fields' complexity wired in.
func NewSchema(client *ent.Client, accounts *account.Service, log *slog.Logger) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers:  &Resolver{client: client, accounts: accounts, log: log},
		Directives: DirectiveRoot{HasPermission: hasPermission},
		Complexity: complexityRoot(),
	})
}
