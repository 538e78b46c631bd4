package graph

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

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
// before only when paging backwards. The other cursor becomes a filter
// (window), which Paginate's count must not see: with a window, the
// resolver counts the connection itself (recount).
type page struct {
	after, before *ent.Cursor
	first, last   *int
	window        []func(*entsql.Selector)
	sel           selection
	recount       bool
}

// newPage validates Relay arguments: first or last (not both) within
// 0..100, 10 by default; cursors as issued by this server. It reads what
// the query selects of the connection from ctx (see page.context).
// Returns BAD_USER_INPUT naming the argument.
func newPage(ctx context.Context, first *int, after *string, last *int, before *string) (page, error) {
	p := page{first: first, last: last, sel: selected(ctx)}
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
	p.recount = p.sel.totalCount && len(p.window) > 0
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

// selection is what a query selects of a connection field, whatever the
// aliases, fragments and @include/@skip it is written with.
type selection struct {
	// edges and pageInfo are selected under any name.
	edges, pageInfo, totalCount bool
	// nodes are the selections of every edges.node, merged.
	nodes ast.SelectionSet
}

// selected reads the selection of the connection field ctx resolves. With
// no field in ctx (a resolver called outside a query), it selects all.
func selected(ctx context.Context) selection {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return selection{edges: true, pageInfo: true, totalCount: true}
	}
	op := graphql.GetOperationContext(ctx)
	var s selection
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, nil) {
		switch f.Name {
		case "edges":
			s.edges = true
			for _, e := range graphql.CollectFields(op, f.Selections, nil) {
				if e.Name == "node" {
					s.nodes = append(s.nodes, e.Selections...)
				}
			}
		case "pageInfo":
			s.pageInfo = true
		case "totalCount":
			s.totalCount = true
		}
	}
	return s
}

// rewritten holds a connection field's selection as rewritten by
// page.context. gqlgen caches collected fields for the whole operation by
// the address of a selection set, so the sets handed to it must stay
// allocated while the operation runs: they are arrays of this struct, and
// the cache keeps the fields, and so the struct, alive.
type rewritten struct {
	edges, node, totalCount, pageInfo ast.Field
	top                               [3]ast.Selection
	edgesSet                          [1]ast.Selection
}

// context returns ctx with the connection field's selection rewritten for
// entgql's Paginate, which reads it to decide what to query and gets it
// wrong twice: it matches fields by response key, so it misses an aliased
// edges or totalCount, and when pageInfo is selected without edges it
// fetches no rows, so it answers no cursors and guesses hasNextPage from
// the count. Paginate sees instead edges { node { … } } whenever edges or
// pageInfo is selected (pageInfo is then built from the rows, with every
// node selection merged for field collection), totalCount when it is
// selected and no window hides part of the connection from its count, and
// pageInfo for an empty page (first: 0 or last: 0), whose has*Page only
// the count answers.
func (p page) context(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ctx
	}
	r := &rewritten{
		edges:      ast.Field{Alias: "edges", Name: "edges"},
		node:       ast.Field{Alias: "node", Name: "node", SelectionSet: p.sel.nodes},
		totalCount: ast.Field{Alias: "totalCount", Name: "totalCount"},
		pageInfo:   ast.Field{Alias: "pageInfo", Name: "pageInfo"},
	}
	r.edgesSet[0] = &r.node
	r.edges.SelectionSet = r.edgesSet[:]
	top := r.top[:0]
	if p.sel.edges || p.sel.pageInfo {
		top = append(top, &r.edges)
	}
	if p.sel.totalCount && len(p.window) == 0 {
		top = append(top, &r.totalCount)
	}
	if p.sel.pageInfo && (p.first != nil && *p.first == 0 || p.last != nil && *p.last == 0) {
		top = append(top, &r.pageInfo)
	}
	d := *fc
	d.Field = graphql.CollectedField{Field: fc.Field.Field, Selections: top}
	ctx = graphql.WithFieldContext(ctx, &d)
	d.Parent = fc.Parent // stand in for fc, not below it
	return ctx
}
