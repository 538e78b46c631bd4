package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSliceInOrder marshals the n elements of a list one after another
// on the caller's goroutine: what graphql.MarshalSliceConcurrently does,
// panics recovered per element included, without a goroutine for each.
func marshalSliceInOrder(ctx context.Context, n int, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, n)
	for i := range n {
		ret[i] = marshalElement(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i}), i, marshal)
	}
	return ret
}

// marshalElement marshals element i; a panic makes it null, with the
// error that the server's recover function makes of it.
func marshalElement(ctx context.Context, i int, marshal func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshal(ctx, i)
}
