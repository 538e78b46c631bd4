// Package content holds the rules on books and notes: books are public to
// read and changed by the callers the schema lets through; a note belongs to
// the user who wrote it, and anyone else's note is answered exactly like a
// missing one (NOT_FOUND). It returns *apperr.Error for every answer a
// client may see, and wrapped errors for everything else.
package content

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/book"
	"bitgate/ent/note"
	"bitgate/internal/account"
	"bitgate/internal/apperr"
)

// Service implements the book and note operations on an ent client.
type Service struct {
	client *ent.Client
}

// NewService returns a Service storing books and notes through client.
func NewService(client *ent.Client) *Service { return &Service{client: client} }

// Book returns book id, or nil without an error if there is none. Called
// by a GraphQL resolver, it reads only the columns the field's selection
// asks for (entgql's CollectFields; all of them when the selection names
// a field it does not know, as a node's fragments on other types do).
func (s *Service) Book(ctx context.Context, id uuid.UUID) (*ent.Book, error) {
	q, err := s.client.Book.Query().Where(book.ID(id)).CollectFields(ctx)
	if err != nil {
		return nil, fmt.Errorf("load book %s: %w", id, err)
	}
	b, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("load book %s: %w", id, err)
	}
	return b, nil
}

// BooksByID returns the books among ids, by id, with one statement (every
// column).
func (s *Service) BooksByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ent.Book, error) {
	books, err := s.client.Book.Query().Where(book.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load books: %w", err)
	}
	found := make(map[uuid.UUID]*ent.Book, len(books))
	for _, b := range books {
		found[b.ID] = b
	}
	return found, nil
}

// CreateBook stores a new book. Invalid fields are ent validation errors,
// which the error presenter answers as BAD_USER_INPUT.
func (s *Service) CreateBook(ctx context.Context, in ent.CreateBookInput) (*ent.Book, error) {
	b, err := s.client.Book.Create().SetInput(in).Save(ctx)
	return b, wrap(err, "create book")
}

// UpdateBook changes the given fields of book id. Returns NOT_FOUND for a
// missing book; invalid fields as CreateBook.
func (s *Service) UpdateBook(ctx context.Context, id uuid.UUID, in ent.UpdateBookInput) (*ent.Book, error) {
	b, err := s.client.Book.UpdateOneID(id).SetInput(in).Save(ctx)
	return b, wrap(err, "update book %s", id)
}

// DeleteBook deletes book id. Returns NOT_FOUND for a missing book.
func (s *Service) DeleteBook(ctx context.Context, id uuid.UUID) error {
	return wrap(s.client.Book.DeleteOneID(id).Exec(ctx), "delete book %s", id)
}

// Notes returns the query of the viewer's own notes, for a resolver to
// filter and paginate.
func (s *Service) Notes(v *account.Viewer) *ent.NoteQuery {
	return s.client.Note.Query().Where(note.OwnerID(v.User.ID))
}

// Note returns note id if the viewer owns it. Returns NOT_FOUND for a
// missing note and for anyone else's, alike.
func (s *Service) Note(ctx context.Context, v *account.Viewer, id uuid.UUID) (*ent.Note, error) {
	n, err := s.Notes(v).Where(note.ID(id)).Only(ctx)
	return n, wrap(err, "load note %s", id)
}

// NotesByID answers note(id) for each of ids that names a note the viewer
// may know of, with one statement: the viewer's own notes (each with its
// owner, the viewer, set) if the viewer holds FREE, or else FORBIDDEN
// (naming FREE) for every note. Anyone else's note is left out, like an id
// that names no note, so that both answer NOT_FOUND alike.
func (s *Service) NotesByID(ctx context.Context, v *account.Viewer, ids []uuid.UUID) (map[uuid.UUID]account.Lookup[*ent.Note], error) {
	found := make(map[uuid.UUID]account.Lookup[*ent.Note], len(ids))
	if err := v.Require(account.PermFree); err != nil {
		known, lerr := s.client.Note.Query().Where(note.IDIn(ids...)).IDs(ctx)
		for _, id := range known {
			found[id] = account.Lookup[*ent.Note]{Err: err}
		}
		return found, wrap(lerr, "look up notes")
	}
	notes, err := s.Notes(v).Where(note.IDIn(ids...)).All(ctx)
	for _, n := range notes {
		n.Edges.Owner = v.User
		found[n.ID] = account.Lookup[*ent.Note]{Value: n}
	}
	return found, wrap(err, "load notes")
}

// CreateNote stores a new note owned by the viewer. Invalid fields are ent
// validation errors, which the error presenter answers as BAD_USER_INPUT.
func (s *Service) CreateNote(ctx context.Context, v *account.Viewer, in ent.CreateNoteInput) (*ent.Note, error) {
	n, err := s.client.Note.Create().SetInput(in).SetOwnerID(v.User.ID).Save(ctx)
	return n, wrap(err, "create note")
}

// UpdateNote changes the given fields of note id if the viewer owns it.
// Returns NOT_FOUND for a missing note and for anyone else's, alike.
func (s *Service) UpdateNote(ctx context.Context, v *account.Viewer, id uuid.UUID, in ent.UpdateNoteInput) (*ent.Note, error) {
	n, err := s.client.Note.UpdateOneID(id).Where(note.OwnerID(v.User.ID)).SetInput(in).Save(ctx)
	return n, wrap(err, "update note %s", id)
}

// DeleteNote deletes note id if the viewer owns it. Returns NOT_FOUND for a
// missing note and for anyone else's, alike.
func (s *Service) DeleteNote(ctx context.Context, v *account.Viewer, id uuid.UUID) error {
	n, err := s.client.Note.Delete().Where(note.ID(id), note.OwnerID(v.User.ID)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete note %s: %w", id, err)
	}
	if n == 0 {
		return apperr.ErrNotFound
	}
	return nil
}

// wrap maps ent's not-found error to NOT_FOUND and wraps any other error
// with what was being done (format and args); nil stays nil.
func wrap(err error, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case ent.IsNotFound(err):
		return apperr.ErrNotFound
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
