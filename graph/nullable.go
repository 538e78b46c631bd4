package graph

import "bitgate/ent"

// nullIfNotFound turns ent's not-found error into a null result, for
// nullable fields that answer null for a missing object.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}
