package graph

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"bitgate/ent"
	"bitgate/internal/account"
	"bitgate/internal/apperr"
)

// maxNodes is how many ids nodes(ids:) takes, like a page.
const maxNodes = maxPageSize

// nodes resolves Relay ids, each as node does, in order; a refused or
// missing one is nil, with its error added at its index of the list.
// Returns BAD_USER_INPUT for more than maxNodes ids.
func (r *Resolver) nodes(ctx context.Context, ids []uuid.UUID) ([]ent.Noder, error) {
	if len(ids) > maxNodes {
		return nil, apperr.Input("ids", fmt.Sprintf("at most %d ids", maxNodes))
	}
	found, err := r.lookUpNodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		n, err := found.answer(id)
		if err != nil {
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), err)
			continue
		}
		out[i] = n
	}
	return out, nil
}

// node resolves a Relay id under the rules of the field that answers its
// type: a book for anyone (book), a note for its owner holding FREE
// (note), a user for themself or an ADMIN (user), an audit event for an
// ADMIN (auditEvents). Returns NOT_FOUND for an id that names nothing and
// for another user's note, and the typed field's UNAUTHENTICATED or
// FORBIDDEN for the rest; a caller who is not signed in gets
// UNAUTHENTICATED for anything but a book.
func (r *Resolver) node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	found, err := r.lookUpNodes(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	return found.answer(id)
}

// foundNodes are the answers of node(id) by id, and the answer for every
// id not among them.
type foundNodes struct {
	answers   map[uuid.UUID]account.Lookup[ent.Noder]
	otherwise error
}

// answer returns the answer for id.
func (f foundNodes) answer(id uuid.UUID) (ent.Noder, error) {
	if a, ok := f.answers[id]; ok {
		return a.Value, a.Err
	}
	return nil, f.otherwise
}

// lookUpNodes answers node(id) for each of ids with one statement per
// table at most, whatever the number of ids and however often one
// repeats, and none for a table once every id is answered: the services
// apply the rules of each type (see node). Ids are UUIDs, unique across
// tables.
func (r *Resolver) lookUpNodes(ctx context.Context, ids []uuid.UUID) (foundNodes, error) {
	found := foundNodes{answers: make(map[uuid.UUID]account.Lookup[ent.Noder], len(ids))}
	rest := slices.Clone(ids) // distinct, not answered yet
	slices.SortFunc(rest, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	rest = slices.Compact(rest)
	books, err := r.content.BooksByID(ctx, rest)
	if err != nil {
		return found, err
	}
	for id, b := range books {
		found.answers[id] = account.Lookup[ent.Noder]{Value: b}
	}
	v, err := account.ViewerFrom(ctx)
	if err != nil {
		found.otherwise = err // anything but a book needs a caller
		return found, nil
	}
	found.otherwise = apperr.ErrNotFound
	rest = found.unanswered(rest)
	if len(rest) > 0 {
		notes, err := r.content.NotesByID(ctx, v, rest)
		if err != nil {
			return found, err
		}
		add(found.answers, notes)
		rest = found.unanswered(rest)
	}
	if len(rest) > 0 {
		fc := graphql.GetFieldContext(ctx)
		users, err := r.accounts.UsersByID(ctx, v, rest, selectsSessions(ctx, fc.Field.Selections))
		if err != nil {
			return found, err
		}
		add(found.answers, users)
		rest = found.unanswered(rest)
	}
	if len(rest) > 0 {
		events, err := r.accounts.AuditEventsByID(ctx, v, rest)
		if err != nil {
			return found, err
		}
		add(found.answers, events)
	}
	return found, nil
}

// unanswered returns the ids of rest that have no answer yet, in rest's
// place.
func (f foundNodes) unanswered(rest []uuid.UUID) []uuid.UUID {
	out := rest[:0]
	for _, id := range rest {
		if _, ok := f.answers[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// add adds the answers of one type to answers.
func add[T ent.Noder](answers map[uuid.UUID]account.Lookup[ent.Noder], found map[uuid.UUID]account.Lookup[T]) {
	for id, a := range found {
		answers[id] = account.Lookup[ent.Noder]{Value: a.Value, Err: a.Err}
	}
}

// userTypes are the types a User satisfies in a selection.
var userTypes = []string{"User", "Node"}

// selectsSessions reports whether set, a selection on values that may be
// users, asks for the users' sessions.
func selectsSessions(ctx context.Context, set ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), set, userTypes) {
		if f.Name == "sessions" {
			return true
		}
	}
	return false
}

// withSessions makes q, a query of the users that set selects from, load
// their live sessions in one statement if set asks for them (see
// account.Service.WithLiveSessions).
func (r *Resolver) withSessions(ctx context.Context, q *ent.UserQuery, set ast.SelectionSet) *ent.UserQuery {
	if !selectsSessions(ctx, set) {
		return q
	}
	v, err := account.ViewerFrom(ctx)
	if err != nil {
		return q // nothing to load: each user's sessions will say why
	}
	return r.accounts.WithLiveSessions(v, q)
}
