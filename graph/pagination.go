package graph

import (
	"bitgate/ent"
	"bitgate/internal/apperr"
)

// Page sizes of the contract.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// page holds validated Relay pagination arguments.
type page struct {
	after, before *ent.Cursor
	first, last   *int
}

// newPage validates Relay arguments: first and last within 0..100 (10 by
// default when neither is given), cursors as issued by this server.
// Returns BAD_USER_INPUT naming the argument.
func newPage(first *int, after *string, last *int, before *string) (page, error) {
	p := page{first: first, last: last}
	for name, n := range map[string]*int{"first": first, "last": last} {
		if n != nil && (*n < 0 || *n > maxPageSize) {
			return p, apperr.Input(name, name+" must be between 0 and 100")
		}
	}
	if first == nil && last == nil {
		n := defaultPageSize
		p.first = &n
	}
	var err error
	if p.after, err = cursor("after", after); err != nil {
		return p, err
	}
	if p.before, err = cursor("before", before); err != nil {
		return p, err
	}
	return p, nil
}

// cursor decodes an opaque cursor argument; nil stays nil.
func cursor(name string, s *string) (*ent.Cursor, error) {
	if s == nil {
		return nil, nil
	}
	var c ent.Cursor
	if len(*s) > 512 || c.UnmarshalGQL(*s) != nil {
		return nil, apperr.Input(name, name+" is not a valid cursor")
	}
	return &c, nil
}
