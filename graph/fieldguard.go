package graph

import (
	"context"
	"errors"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// errFieldMiddleware is what fieldMiddlewareGuard refuses operations with.
var errFieldMiddleware = errors.New("a field middleware (a graphql.FieldInterceptor, or AroundFields) is registered, " +
	"but graph/gen writes the executor to marshal in-place fields without it: " +
	"turn the rewrites off (see graph/gen/main.go) to use one")

// fieldMiddlewareGuard is the handler extension that refuses every
// operation, as an internal error, while a field middleware is registered
// on the server, NewServer's or one added later (srv.Use of a
// graphql.FieldInterceptor, as tracers are; srv.AroundFields): graph/gen
// rewrites the executor to marshal in-place fields without
// graphql.ResolveField, so such a middleware would silently miss them. It
// compares, once an operation is parsed, the field middleware gqlgen
// composed for it with the one gqlgen composes without any; the metrics
// extension and the others the server uses intercept operations or
// responses only.
type fieldMiddlewareGuard struct {
	none uintptr // the code of gqlgen's field middleware without any
}

var (
	_ graphql.HandlerExtension        = (*fieldMiddlewareGuard)(nil)
	_ graphql.OperationContextMutator = (*fieldMiddlewareGuard)(nil)
)

// ExtensionName names the extension.
func (*fieldMiddlewareGuard) ExtensionName() string { return "FieldMiddlewareGuard" }

// Validate records the field middleware of an executor of es that has no
// extension.
func (g *fieldMiddlewareGuard) Validate(es graphql.ExecutableSchema) error {
	ctx := graphql.StartOperationTrace(context.Background())
	oc, _ := executor.New(es).CreateOperationContext(ctx, &graphql.RawParams{})
	if oc == nil || oc.ResolverMiddleware == nil {
		return errors.New("gqlgen's executor gives an operation no field middleware")
	}
	g.none = reflect.ValueOf(oc.ResolverMiddleware).Pointer()
	return nil
}

// MutateOperationContext refuses the operation if its field middleware is
// not gqlgen's empty one.
func (g *fieldMiddlewareGuard) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if reflect.ValueOf(oc.ResolverMiddleware).Pointer() != g.none {
		return gqlerror.WrapPath(nil, errFieldMiddleware)
	}
	return nil
}
