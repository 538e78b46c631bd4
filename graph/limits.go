package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"bitgate/internal/apperr"
)

// Limits bound what one GraphQL request may ask for. Zero fields take the
// defaults below.
type Limits struct {
	// MaxDepth is the deepest selection nesting, introspection included.
	MaxDepth int
	// MaxComplexity is gqlgen's complexity limit; list fields cost their
	// page size times their selection.
	MaxComplexity int
	// MaxAuthFields is how many of each of signin, signup and refresh one
	// request may hold, aliases included.
	MaxAuthFields int
}

// Default limits: the deepest useful query (GraphiQL's introspection) has
// depth 13; a full page of 100 notes with their owners costs about 2 000.
const (
	DefaultMaxDepth      = 15
	DefaultMaxComplexity = 5000
	DefaultMaxAuthFields = 1
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxComplexity <= 0 {
		l.MaxComplexity = DefaultMaxComplexity
	}
	if l.MaxAuthFields <= 0 {
		l.MaxAuthFields = DefaultMaxAuthFields
	}
	return l
}

// authFields are the mutations that cost a password hash or a token
// rotation: aliasing them is how brute force hides in one request.
var authFields = map[string]bool{"signin": true, "signup": true, "refresh": true}

// operationLimits is a gqlgen extension that refuses, before execution, an
// operation nested deeper than maxDepth or asking for introspection when it
// is off (GRAPHQL_VALIDATION_FAILED), or holding more than maxAuth of one
// auth mutation (RATE_LIMITED).
type operationLimits struct {
	maxDepth, maxAuth int
	introspection     bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

// ExtensionName names the extension.
func (operationLimits) ExtensionName() string { return "OperationLimits" }

// Validate accepts any schema.
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext checks the operation, which gqlgen has already
// parsed and validated (so fragments are known and acyclic).
func (l operationLimits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	if d := depth(op.SelectionSet, map[string]int{}); d > l.maxDepth {
		return validationError("operation is nested %d levels deep, more than the limit of %d", d, l.maxDepth)
	}
	if !l.introspection && introspects(op.SelectionSet, map[string]bool{}) {
		return validationError("introspection is disabled")
	}
	if op.Operation != ast.Mutation {
		return nil
	}
	counts := map[string]int{}
	for _, f := range graphql.CollectFields(opCtx, op.SelectionSet, []string{"Mutation"}) {
		if authFields[f.Name] {
			counts[f.Name]++ // one per response key: copies under one alias run once
			if counts[f.Name] > l.maxAuth {
				return &gqlerror.Error{
					Message: fmt.Sprintf("a request may hold at most %d %s", l.maxAuth, f.Name),
					Extensions: map[string]any{
						"code": string(apperr.RateLimited), "retryAfter": 1,
					},
				}
			}
		}
	}
	return nil
}

// depth returns how deeply set nests fields, counting each fragment once
// (memo holds the depth of fragments already measured).
func depth(set ast.SelectionSet, memo map[string]int) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + depth(s.SelectionSet, memo)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, memo)
		case *ast.FragmentSpread:
			known, ok := memo[s.Name]
			if !ok && s.Definition != nil {
				known = depth(s.Definition.SelectionSet, memo)
				memo[s.Name] = known
			}
			d = known
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// introspects reports whether set selects __schema or __type anywhere
// (seen holds the fragments already looked at).
func introspects(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" || introspects(s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if introspects(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[s.Name] && s.Definition != nil {
				seen[s.Name] = true
				if introspects(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

// validationError is a refusal with gqlgen's validation code.
func validationError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// complexityRoot prices list fields by their page size, so that asking for
// 100 rows costs 100 times a row.
func complexityRoot() ComplexityRoot {
	var c ComplexityRoot
	page := func(child int, first, last *int) int {
		n := defaultPageSize
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		return 1 + child*max(min(n, maxPageSize), 1)
	}
	c.Query.Users = func(child int, first *int, _ *string, last *int, _ *string) int { return page(child, first, last) }
	c.Query.Books = func(child int, first *int, _ *string, last *int, _ *string) int { return page(child, first, last) }
	c.Query.Notes = func(child int, first *int, _ *string, last *int, _ *string) int { return page(child, first, last) }
	c.Query.AuditEvents = func(child int, first *int, _ *string, last *int, _ *string) int { return page(child, first, last) }
	return c
}
