package graph

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"bitgate/internal/account"
	"bitgate/internal/apperr"
	"bitgate/internal/settings"
)

// Limits bound what one GraphQL request may ask for. They are settings
// (see internal/settings), with their defaults, which NewServer gives a
// zero field: the deepest useful query
// (GraphiQL's introspection) has depth 13 and holds about 80 fields; a
// full page of 100 notes with their owners costs about 2 000.
type Limits struct {
	// MaxDepth is the deepest selection nesting, introspection included.
	MaxDepth int `flag:"max-depth" env:"MAX_QUERY_DEPTH" default:"15" help:"deepest selection nesting"`
	// MaxComplexity is gqlgen's complexity limit; list fields cost their
	// page size times their selection.
	MaxComplexity int `flag:"max-complexity" env:"MAX_COMPLEXITY" default:"5000" help:"query complexity limit"`
	// MaxAuthFields is how many of each of signin, signup, refresh, the
	// mutations of mailed links and each mutation that checks a password
	// or a second factor (authFields) one request may hold, aliases
	// included.
	MaxAuthFields int `flag:"max-auth-fields" env:"MAX_AUTH_FIELDS" default:"1" help:"signin, signup, refresh, each mutation of mailed links (requestPasswordReset, resetPassword, ...) and each that checks a password or a second factor: fields allowed each per request"`
	// MaxFields is how many fields a query document may hold. GraphQL
	// validation takes time that grows with the square of the fields in
	// one selection, so a huge document is refused before it is validated.
	MaxFields int `flag:"max-fields" env:"MAX_QUERY_FIELDS" default:"500" help:"fields a query document may hold"`
}

// defaultLimits are the declared defaults of Limits.
var defaultLimits = settings.Default[Limits]()

// withDefaults returns l with each zero limit at its declared default, for
// a server built without the settings (in a test, say).
func (l Limits) withDefaults() Limits {
	l.MaxDepth = cmp.Or(l.MaxDepth, defaultLimits.MaxDepth)
	l.MaxComplexity = cmp.Or(l.MaxComplexity, defaultLimits.MaxComplexity)
	l.MaxAuthFields = cmp.Or(l.MaxAuthFields, defaultLimits.MaxAuthFields)
	l.MaxFields = cmp.Or(l.MaxFields, defaultLimits.MaxFields)
	return l
}

// Validate returns an error naming the first limit that is not positive.
func (l *Limits) Validate() error {
	for _, f := range []struct {
		env string
		v   int
	}{{"MAX_QUERY_DEPTH", l.MaxDepth}, {"MAX_COMPLEXITY", l.MaxComplexity}, {"MAX_AUTH_FIELDS", l.MaxAuthFields}, {"MAX_QUERY_FIELDS", l.MaxFields}} {
		if f.v <= 0 {
			return fmt.Errorf("%s must be positive", f.env)
		}
	}
	return nil
}

// maxTokens bounds the parser's work on a query (a 1 MiB body of one-byte
// tokens would be a million).
const maxTokens = 20_000

// authFields are the mutations that cost a password hash, a token
// rotation or a mail, spend a mailed token, or check a second factor:
// aliasing them is how brute force hides in one request.
var authFields = map[string]bool{
	"signin": true, "signup": true, "refresh": true,
	"requestEmailVerification": true, "verifyEmail": true, "requestPasswordReset": true,
	"resetPassword": true, "requestEmailChange": true, "confirmEmailChange": true,
	"verifySecondFactor": true, "finishPasskeySignin": true, "finishPasskeyVerification": true,
	"enrollTotp": true, "confirmTotp": true, "disableTotp": true, "regenerateRecoveryCodes": true,
	"beginPasskeyRegistration": true, "finishPasskeyRegistration": true, "removePasskey": true,
}

// operationLimits is a gqlgen extension that bounds what one request may
// ask for. Before gqlgen validates a query it has not seen, it refuses a
// document of more than maxFields fields (GRAPHQL_VALIDATION_FAILED).
// After validation, on every request, cached document or not, it refuses
// the operation about to run if it holds more than maxAuth of one auth
// mutation (RATE_LIMITED), is nested deeper than maxDepth, or asks for
// introspection when it is off (GRAPHQL_VALIDATION_FAILED), or if its
// fragments expand to more fields than maxComplexity
// (COMPLEXITY_LIMIT_EXCEEDED: every field costs at least 1, so gqlgen's
// complexity check would refuse it too, but only after walking every
// expansion, which fragments spreading each other twice make exponential).
type operationLimits struct {
	maxDepth, maxAuth, maxFields, maxComplexity int
	introspection                               bool
	// cache is gqlgen's query cache: a query found there passed already.
	cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = operationLimits{}

// ExtensionName names the extension.
func (operationLimits) ExtensionName() string { return "OperationLimits" }

// Validate accepts any schema.
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters checks a new query before gqlgen parses and
// validates it. A query that does not parse is left to gqlgen to report.
func (l operationLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := l.cache.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, maxTokens)
	if err != nil {
		return nil
	}
	n := 0
	for _, op := range doc.Operations {
		n += countFields(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += countFields(f.SelectionSet)
	}
	if n > l.maxFields {
		return validationError("the query holds %d fields, more than the limit of %d", n, l.maxFields)
	}
	return nil
}

// tooManyAuth refuses an operation holding more than max response keys
// (aliases) of one auth mutation: gqlgen runs a root field once per
// response key. Auth mutations are root fields, so it looks at the
// operation's top level and the fragments spread there, each fragment once.
func tooManyAuth(op *ast.OperationDefinition, max int) *gqlerror.Error {
	if op.Operation != ast.Mutation {
		return nil
	}
	var keys map[string]map[string]bool // allocated at the first auth field
	var seen map[string]bool
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if authFields[s.Name] {
					if keys == nil {
						keys = map[string]map[string]bool{}
					}
					if keys[s.Name] == nil {
						keys[s.Name] = map[string]bool{}
					}
					keys[s.Name][s.Alias] = true
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition != nil && !seen[s.Name] {
					if seen == nil {
						seen = map[string]bool{}
					}
					seen[s.Name] = true
					walk(s.Definition.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
	for name, k := range keys {
		if len(k) > max {
			limited := apperr.Limited(fmt.Sprintf("a request may hold at most %d %s", max, name), time.Second)
			return &gqlerror.Error{Message: limited.Message, Extensions: limited.Extensions()}
		}
	}
	return nil
}

// countFields counts the fields written in set, not following fragment
// spreads (each fragment is counted once, where it is defined).
func countFields(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + countFields(s.SelectionSet)
		case *ast.InlineFragment:
			n += countFields(s.SelectionSet)
		}
	}
	return n
}

// MutateOperationContext checks the operation gqlgen picked to run, after
// parsing and validation (so fragments are known and acyclic) and before
// any resolver. It runs for every request, cached documents included.
func (l operationLimits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	if err := tooManyAuth(op, l.maxAuth); err != nil {
		return err
	}
	if d := depth(op.SelectionSet, map[string]int{}); d > l.maxDepth {
		return validationError("operation is nested %d levels deep, more than the limit of %d", d, l.maxDepth)
	}
	if n := expandedFields(op.SelectionSet, map[string]int{}); n > l.maxComplexity {
		err := gqlerror.Errorf("operation expands to more fields than the complexity limit of %d", l.maxComplexity)
		errcode.Set(err, codeComplexityLimit)
		return err
	}
	if !l.introspection && introspects(op.SelectionSet, map[string]bool{}) {
		return validationError("introspection is disabled")
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

// expandedFields returns how many fields set selects once every fragment
// spread is replaced by its fragment, counting each fragment's size once
// (memo); the count stops growing past maxExpanded, so that it cannot
// overflow.
func expandedFields(set ast.SelectionSet, memo map[string]int) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + expandedFields(s.SelectionSet, memo)
		case *ast.InlineFragment:
			n += expandedFields(s.SelectionSet, memo)
		case *ast.FragmentSpread:
			size, ok := memo[s.Name]
			if !ok && s.Definition != nil {
				size = expandedFields(s.Definition.SelectionSet, memo)
				memo[s.Name] = size
			}
			n += size
		}
		n = min(n, maxExpanded)
	}
	return n
}

// codeComplexityLimit is the code of gqlgen's complexity refusal.
const codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"

// maxExpanded caps expandedFields' count, far above any complexity limit.
const maxExpanded = 1 << 40

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

// nodeLookupCost is what node and nodes cost beside their ids: a lookup in
// up to four tables (see lookUpNodes), which takes the CPU of some 30 rows
// of a page. Each id then costs its selection and one more, for an object
// of an interface costs about twice a row of a page (both measured by
// BenchmarkWorstRequests), so that no request of node or nodes under the
// complexity limit costs more than about 3 times the CPU of the worst one
// of books(first: 100).
const nodeLookupCost = 30

// complexityRoot prices list fields by their page size (nodes by its ids,
// lists of sessions by maxSessions, the most a user may have), so that
// asking for 100 rows costs 100 times a row, and node and nodes by their
// lookups (nodeLookupCost).
func complexityRoot(maxSessions int) ComplexityRoot {
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
	lookups := func(child, ids int) int { return nodeLookupCost + (child+1)*ids }
	c.Query.Nodes = func(child int, ids []uuid.UUID) int { return lookups(child, len(ids)) }
	c.Query.Node = func(child int, _ uuid.UUID) int { return lookups(child, 1) }
	sessions := func(child int) int { return 1 + child*maxSessions }
	c.Query.Sessions = sessions
	c.User.Sessions = sessions
	// A user's second factors take three statements; their passkeys are
	// at most account.MaxPasskeys.
	c.User.SecondFactors = func(child int) int { return 3 + child }
	c.SecondFactors.Passkeys = func(child int) int { return 1 + child*account.MaxPasskeys }
	return c
}
