// Package uuidgql marshals UUIDs as the GraphQL ID scalar.
package uuidgql

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// ErrInvalidID is returned by UnmarshalUUID for a value that is not a UUID.
var ErrInvalidID = errors.New("invalid ID: must be a UUID")

// MarshalUUID writes u as a quoted string.
func MarshalUUID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(u.String()))
	})
}

// UnmarshalUUID reads a UUID from a GraphQL string. Returns an error wrapping
// ErrInvalidID for anything else.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("%w: got %T", ErrInvalidID, v)
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, ErrInvalidID
	}
	return u, nil
}
