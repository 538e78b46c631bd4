package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"bitgate/internal/persisted"
)

// Error codes of persisted queries: Apollo's, which its persisted query
// link reads (PersistedQueryNotFound makes it send the query again).
const (
	codeNotFound  = "PERSISTED_QUERY_NOT_FOUND"
	codeNotInList = "PERSISTED_QUERY_NOT_IN_LIST"
)

// The automatic persisted queries cache of an instance: at most apqEntries
// queries of at most apqMaxQuery bytes each (a longer one is run but not
// kept: its client keeps sending it whole), so at most 32 MiB.
const (
	apqEntries  = 1000
	apqMaxQuery = 32 << 10
)

// apq returns gqlgen's automatic persisted queries extension on a cache of
// its own: a hash it has not seen answers PersistedQueryNotFound with code
// PERSISTED_QUERY_NOT_FOUND, a hash that does not match the query sent
// with it is refused (GRAPHQL_VALIDATION_FAILED), a matching pair is kept.
func apq() extension.AutomaticPersistedQuery {
	return extension.AutomaticPersistedQuery{Cache: apqCache{lru.New[string](apqEntries)}}
}

// apqCache is gqlgen's LRU cache that does not keep long queries.
type apqCache struct{ *lru.LRU[string] }

// Add keeps query under hash unless it is longer than apqMaxQuery.
func (c apqCache) Add(ctx context.Context, hash, query string) {
	if len(query) <= apqMaxQuery {
		c.LRU.Add(ctx, hash, query)
	}
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
