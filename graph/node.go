package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/auditevent"
	"bitgate/ent/book"
	"bitgate/ent/note"
	"bitgate/ent/user"
	"bitgate/internal/account"
	"bitgate/internal/apperr"
)

// maxNodes is how many ids nodes(ids:) takes, like a page.
const maxNodes = maxPageSize

// nodes resolves Relay ids, each as resolveNode does; a refused or
// missing one is nil, with its error added at its index of the list.
// Returns BAD_USER_INPUT for more than maxNodes ids.
func (r *Resolver) nodes(ctx context.Context, ids []uuid.UUID) ([]ent.Noder, error) {
	if len(ids) > maxNodes {
		return nil, apperr.Input("ids", fmt.Sprintf("at most %d ids", maxNodes))
	}
	kinds, err := r.nodeKinds(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		n, err := r.resolveNode(ctx, id, kinds[id])
		if err != nil {
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), err)
			continue
		}
		out[i] = n
	}
	return out, nil
}

// node resolves one Relay id as resolveNode does.
func (r *Resolver) node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	kinds, err := r.nodeKinds(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	return r.resolveNode(ctx, id, kinds[id])
}

// resolveNode resolves the Relay id of an object of kind (its table; "" when the
// id names nothing) under the rules of the field that answers its type:
// a book for anyone (book), a note for its owner holding FREE (note), a
// user for themself or an ADMIN (user), an audit event for an ADMIN
// (auditEvents). Returns NOT_FOUND for an id that names nothing and for
// another user's note, and the typed field's UNAUTHENTICATED or FORBIDDEN
// for the rest; a caller who is not signed in gets UNAUTHENTICATED for
// anything but a book.
func (r *Resolver) resolveNode(ctx context.Context, id uuid.UUID, kind string) (ent.Noder, error) {
	switch kind {
	case book.Table:
		b, err := r.content.Book(ctx, id)
		if err != nil || b == nil {
			return nil, notFound(err)
		}
		return b, nil
	case note.Table:
		v, err := account.Authorize(ctx, account.PermFree)
		if err != nil {
			return nil, err
		}
		n, err := r.content.Note(ctx, v, id)
		if err != nil {
			return nil, err
		}
		return n, nil
	case user.Table:
		v, err := account.ViewerFrom(ctx)
		if err != nil {
			return nil, err
		}
		u, err := r.accounts.User(ctx, v, id)
		if err != nil || u == nil {
			return nil, notFound(err)
		}
		return u, nil
	case auditevent.Table:
		if _, err := account.Authorize(ctx, account.PermAdmin); err != nil {
			return nil, err
		}
		e, err := r.client.AuditEvent.Get(ctx, id)
		if err != nil {
			return nil, notFound(err)
		}
		return e, nil
	}
	if _, err := account.ViewerFrom(ctx); err != nil {
		return nil, err
	}
	return nil, apperr.ErrNotFound
}

// notFound returns err, or NOT_FOUND when err is nil or ent's not-found
// error: the object was deleted since its kind was looked up.
func notFound(err error) error {
	if err == nil || ent.IsNotFound(err) {
		return apperr.ErrNotFound
	}
	return err
}

// nodeKinds returns the table of each id that names a row, one query per
// table whatever the number of ids. Ids are UUIDs, unique across tables.
func (r *Resolver) nodeKinds(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	kinds := make(map[uuid.UUID]string, len(ids))
	for _, t := range []struct {
		table string
		ids   func() ([]uuid.UUID, error)
	}{
		{book.Table, func() ([]uuid.UUID, error) { return r.client.Book.Query().Where(book.IDIn(ids...)).IDs(ctx) }},
		{note.Table, func() ([]uuid.UUID, error) { return r.client.Note.Query().Where(note.IDIn(ids...)).IDs(ctx) }},
		{user.Table, func() ([]uuid.UUID, error) { return r.client.User.Query().Where(user.IDIn(ids...)).IDs(ctx) }},
		{auditevent.Table, func() ([]uuid.UUID, error) {
			return r.client.AuditEvent.Query().Where(auditevent.IDIn(ids...)).IDs(ctx)
		}},
	} {
		found, err := t.ids()
		if err != nil {
			return nil, fmt.Errorf("look up ids in %s: %w", t.table, err)
		}
		for _, id := range found {
			kinds[id] = t.table
		}
	}
	return kinds, nil
}
