package graph

import (
	entsql "entgo.io/ent/dialect/sql"

	"bitgate/ent"
	"bitgate/internal/apperr"
)

// Page sizes of the contract.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// page holds validated Relay pagination arguments, split between what
// entgql's Paginate applies and what it gets wrong: it compares both
// cursors the same way, so it handles after only when paging forwards and
// before only when paging backwards. The other cursor becomes a filter.
type page struct {
	after, before *ent.Cursor
	first, last   *int
	window        []func(*entsql.Selector)
}

// newPage validates Relay arguments: first or last (not both) within
// 0..100, 10 by default; cursors as issued by this server. Returns
// BAD_USER_INPUT naming the argument.
func newPage(first *int, after *string, last *int, before *string) (page, error) {
	p := page{first: first, last: last}
	if err := checkPageSize("first", first); err != nil {
		return p, err
	}
	if err := checkPageSize("last", last); err != nil {
		return p, err
	}
	switch {
	case first != nil && last != nil:
		return p, apperr.Input("last", "pass first or last, not both")
	case first == nil && last == nil:
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
	if p.last == nil && p.before != nil {
		p.window = append(p.window, entsql.FieldLT("id", p.before.ID))
		p.before = nil
	}
	if p.last != nil && p.after != nil {
		p.window = append(p.window, entsql.FieldGT("id", p.after.ID))
		p.after = nil
	}
	return p, nil
}

// where returns the page's extra filters as predicates of one entity.
func where[P ~func(*entsql.Selector)](p page) []P {
	out := make([]P, len(p.window))
	for i, f := range p.window {
		out[i] = P(f)
	}
	return out
}

// checkPageSize checks a first or last argument.
func checkPageSize(name string, n *int) error {
	if n != nil && (*n < 0 || *n > maxPageSize) {
		return apperr.Input(name, name+" must be between 0 and 100")
	}
	return nil
}

// cursor decodes an opaque cursor argument; nil stays nil.
func cursor(name string, s *string) (*ent.Cursor, error) {
	if s == nil {
		return nil, nil
	}
	var c ent.Cursor
	// Lists are ordered by id alone, so a cursor this server issued holds
	// an id and no sort value.
	if len(*s) > 512 || c.UnmarshalGQL(*s) != nil || c.Value != nil {
		return nil, apperr.Input(name, name+" is not a valid cursor")
	}
	return &c, nil
}
