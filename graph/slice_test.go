package graph

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestMarshalSliceInOrder marshals a list as gqlgen's concurrent version
// does, one element after another: each element sees its index in its
// field context, and one that panics becomes null with an error at its
// path while the others are kept.
func TestMarshalSliceInOrder(t *testing.T) {
	var logged bytes.Buffer
	rec := recoverFunc(slog.New(slog.NewTextHandler(&logged, nil))) // the server's
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, rec)
	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{RecoverFunc: rec})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "books"}}})

	var order []int
	got := marshalSliceInOrder(ctx, 3, func(ctx context.Context, i int) graphql.Marshaler {
		require.Equal(t, i, *graphql.GetFieldContext(ctx).Index)
		order = append(order, i)
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	require.Equal(t, []int{0, 1, 2}, order)
	var buf bytes.Buffer
	got.MarshalGQL(&buf)
	require.Equal(t, "[0,null,2]", buf.String())
	errs := graphql.GetErrors(ctx)
	require.Len(t, errs, 1)
	require.Equal(t, ast.Path{ast.PathName("books"), ast.PathIndex(1)}, errs[0].Path)
	require.Contains(t, logged.String(), "panic=boom", "the panic is logged")
}
