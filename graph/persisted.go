package graph

import (
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"bitgate/internal/persisted"
)

// Error codes of persisted queries: Apollo's, which its persisted query
// link reads (PersistedQueryNotFound makes it send the query again).
const (
	codeNotFound  = "PERSISTED_QUERY_NOT_FOUND"
	codeNotInList = "PERSISTED_QUERY_NOT_IN_LIST"
)

// automaticPersistedQueries is Apollo's automatic persisted queries
// (extensions.persistedQuery {version: 1, sha256Hash}) on queries, which
// every instance on the database shares: a hash alone runs the query
// registered under it, or answers PersistedQueryNotFound (code
// PERSISTED_QUERY_NOT_FOUND), on which Apollo's link sends the query with
// its hash; a query with a hash that is not its own is refused
// (GRAPHQL_VALIDATION_FAILED); a query with its own hash runs, and is
// registered once the operation is about to run: validated, within the
// limits, and not a mutation over GET, so that a refused request registers
// nothing. It must run after trustedDocuments.
//
// gqlgen's extension.AutomaticPersistedQuery registers every query whose
// hash matches, before it is even parsed, in a cache of its own instance.
type automaticPersistedQueries struct {
	queries *persisted.Queries
	// logError logs an error of the database that the request does not
	// answer (see serverError).
	logError func(context.Context, error)
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationInterceptor
} = automaticPersistedQueries{}

// registrationKey is the name under which a request that registers a
// query keeps its hash in the operation's stats.
const registrationKey = "AutomaticPersistedQueryRegistration"

// ExtensionName names the extension.
func (automaticPersistedQueries) ExtensionName() string { return "AutomaticPersistedQueries" }

// Validate accepts any schema.
func (automaticPersistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters puts the query of a hash sent alone in the
// request, and checks the hash of a query sent with one.
func (a automaticPersistedQueries) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	raw, ok := p.Extensions["persistedQuery"]
	if !ok || raw == nil {
		return nil
	}
	ext, ok := raw.(map[string]any)
	if !ok {
		return validationError("extensions.persistedQuery must be an object of version and sha256Hash")
	}
	if v, _ := ext["version"].(json.Number); v != "1" {
		return validationError("unsupported APQ version: this server speaks version 1")
	}
	hash, _ := ext["sha256Hash"].(string)
	if p.Query != "" {
		if persisted.Hash(p.Query) != hash {
			return validationError("provided APQ hash does not match query")
		}
		graphql.GetOperationContext(ctx).Stats.SetExtension(registrationKey, hash)
		return nil
	}
	query, found, err := a.queries.Lookup(ctx, hash)
	switch {
	case !found && err != nil:
		return gqlerror.WrapPath(nil, err) // SERVICE_UNAVAILABLE, from the error presenter
	case !found:
		return persistedError(codeNotFound, "PersistedQueryNotFound")
	case err != nil:
		a.logError(ctx, err)
	}
	p.Query = query
	return nil
}

// InterceptOperation registers the query of a request that sent one with
// its hash, now that it runs. A registration the database fails is logged
// (an outage with the others), and the operation runs all the same: its
// client sends the query again when the hash is not found.
func (a automaticPersistedQueries) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if hash, ok := opCtx.Stats.GetExtension(registrationKey).(string); ok {
		if err := a.queries.Register(ctx, hash, opCtx.RawQuery); err != nil {
			a.logError(ctx, err)
		}
	}
	return next(ctx)
}

// documentIDKey carries a request's documentId (see withDocumentID).
type documentIDKey struct{}

// withDocumentID returns ctx carrying the documentId a request sent, for
// trustedDocuments to read.
func withDocumentID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, documentIDKey{}, id)
}

// trustedDocuments is a gqlgen extension that runs operations of the
// manifests a frontend build wrote (persisted.Documents) by id: a request
// whose documentId, or APQ sha256Hash, names one of them runs that
// document. With only set, every other operation, whether sent as text, by
// an unknown id or as an APQ hash, is refused (PERSISTED_QUERY_NOT_IN_LIST),
// unless its text is one of the documents. Without it, other requests go on
// to automatic persisted queries and ordinary queries, and an unknown
// documentId is PERSISTED_QUERY_NOT_FOUND. It must run before gqlgen's APQ
// extension.
type trustedDocuments struct {
	docs *persisted.Documents
	only bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = trustedDocuments{}

// ExtensionName names the extension.
func (trustedDocuments) ExtensionName() string { return "TrustedDocuments" }

// Validate accepts any schema.
func (trustedDocuments) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters puts the document a request names in its query.
func (t trustedDocuments) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	id, _ := ctx.Value(documentIDKey{}).(string)
	apqHash := ""
	if pq, ok := p.Extensions["persistedQuery"].(map[string]any); ok {
		apqHash, _ = pq["sha256Hash"].(string)
	}
	for _, key := range []string{id, apqHash} {
		if key == "" {
			continue
		}
		if doc, ok := t.docs.Lookup(key); ok {
			if p.Query != "" && p.Query != doc {
				return validationError("the query sent is not the document its id names")
			}
			p.Query = doc
			delete(p.Extensions, "persistedQuery") // known: nothing for APQ to keep
			return nil
		}
	}
	switch {
	case t.only && !t.docs.Contains(p.Query):
		return persistedError(codeNotInList, "PersistedQueryNotInList: this server runs only the operations its clients were built with")
	case id != "":
		return persistedError(codeNotFound, "PersistedQueryNotFound: no document has this documentId")
	}
	return nil
}

// persistedError is a refusal with a persisted query code.
func persistedError(code, msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, code)
	return err
}
