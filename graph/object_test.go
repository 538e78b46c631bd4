package graph

import (
	"bytes"
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSequentialObjectMarshalsAsFieldSet writes an object as gqlgen's
// FieldSet does, byte for byte: fields in order under their response keys,
// a repeated key once (the first), more fields than fit in the object's
// own array too.
func TestSequentialObjectMarshalsAsFieldSet(t *testing.T) {
	for _, keys := range [][]string{
		{},
		{"id"},
		{"id", "title", "t2", "title", "author"},
		{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"},
	} {
		fields := make([]graphql.CollectedField, len(keys))
		for i, k := range keys {
			fields[i] = graphql.CollectedField{Field: &ast.Field{Alias: k, Name: "title"}}
		}
		gqlgen, sequential := graphql.NewFieldSet(fields), newSequentialObject(fields)
		for i := range keys {
			gqlgen.Values[i] = graphql.MarshalInt(i)
			sequential.Values[i] = graphql.MarshalInt(i)
		}
		gqlgen.Dispatch(context.Background())
		sequential.Dispatch(context.Background())
		var want, got bytes.Buffer
		gqlgen.MarshalGQL(&want)
		sequential.MarshalGQL(&got)
		require.Equal(t, want.String(), got.String())
	}
}
