package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/content"
	"bitgate/internal/settings"
)

// Resolver holds the dependencies of the resolvers. It is built only by
// NewSchema. Resolvers stay thin: the rules live in the services; the ent
// client serves the lists that no rule narrows.
type Resolver struct {
	client   *ent.Client
	accounts *account.Service
	content  *content.Service
}

// NewSchema returns the executable schema on client and the services, with
// the @hasPermission directive and the list fields' complexity wired in
// (lists of sessions priced at the accounts' cap on them).
func NewSchema(client *ent.Client, accounts *account.Service, content *content.Service) graphql.ExecutableSchema {
	maxSessions := settings.Default[account.Options]().MaxSessions
	if accounts != nil {
		maxSessions = accounts.MaxSessions()
	}
	return NewExecutableSchema(Config{
		Resolvers:  &Resolver{client: client, accounts: accounts, content: content},
		Directives: DirectiveRoot{HasPermission: hasPermission},
		Complexity: complexityRoot(maxSessions),
	})
}
