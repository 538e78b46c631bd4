package graph

import (
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// sequentialObject is what the executor marshals a sequential object into
// (gqlgen's word for an object none of whose fields runs concurrently;
// graph/gen puts it in place of gqlgen's graphql.FieldSet): the same
// Values, Invalids and Dispatch, without what only concurrent and deferred
// fields use, and a MarshalGQL without the copy of every field, the map
// and the closures that FieldSet's makes for each object. Objects of up to
// len(small) fields take one allocation.
type sequentialObject struct {
	fields   []graphql.CollectedField
	Values   []graphql.Marshaler
	Invalids uint32
	small    [8]graphql.Marshaler
}

// newSequentialObject returns the object of fields, none of them set yet.
func newSequentialObject(fields []graphql.CollectedField) *sequentialObject {
	o := &sequentialObject{fields: fields}
	if len(fields) <= len(o.small) {
		o.Values = o.small[:len(fields)]
	} else {
		o.Values = make([]graphql.Marshaler, len(fields))
	}
	return o
}

// Dispatch does nothing: every value is set when the executor calls it.
func (*sequentialObject) Dispatch(context.Context) {}

// MarshalGQL writes the object as FieldSet.MarshalGQL does: its fields in
// order, under their response keys, each key once. A response key is a
// GraphQL name ([_A-Za-z][_0-9A-Za-z]*), which JSON needs no escape for.
func (o *sequentialObject) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, "{")
	for i := range o.fields {
		key := o.fields[i].Alias
		if seenKey(o.fields[:i], key) {
			continue
		}
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = io.WriteString(w, `"`)
		_, _ = io.WriteString(w, key)
		_, _ = io.WriteString(w, `":`)
		o.Values[i].MarshalGQL(w)
	}
	_, _ = io.WriteString(w, "}")
}

// seenKey reports whether one of fields has the response key key.
func seenKey(fields []graphql.CollectedField, key string) bool {
	for i := range fields {
		if fields[i].Alias == key {
			return true
		}
	}
	return false
}
