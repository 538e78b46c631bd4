package model

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// errNotJSON refuses a JSON scalar's input that is neither a JSON value
// nor a string holding one.
var errNotJSON = errors.New("JSON: want an object (or a string holding JSON)")

// MarshalJSON writes a JSON scalar: the value as it is.
func MarshalJSON(v json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		_, _ = w.Write(v)
	})
}

// UnmarshalJSON reads a JSON scalar: an object or array given as a JSON
// value in the variables or the query, or a string that holds one (for
// clients that send JSON.stringify of it). Returns errNotJSON for
// anything else.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	if s, ok := v.(string); ok {
		if !json.Valid([]byte(s)) {
			return nil, errNotJSON
		}
		v = json.RawMessage(s)
	}
	switch v.(type) {
	case map[string]any, []any, json.RawMessage:
	default:
		return nil, errNotJSON
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errNotJSON
	}
	return b, nil
}
