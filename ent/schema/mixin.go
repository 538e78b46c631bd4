package schema

import (
	"errors"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// newID returns a time-ordered UUID (version 7), so that ordering by id is
// ordering by creation, which is what pagination uses.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// IDMixin gives an entity a UUID primary key.
type IDMixin struct{ mixin.Schema }

// Fields returns the id field.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(newID).Immutable().
			Comment("Unique among all objects: a UUID, time-ordered (version 7)."),
	}
}

// TimeMixin adds created_at and updated_at, kept by ent.
type TimeMixin struct{ mixin.Schema }

// Fields returns the timestamp fields.
func (TimeMixin) Fields() []ent.Field {
	skipInputs := entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().Annotations(skipInputs).
			Comment("When it was created."),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).Annotations(skipInputs).
			Comment("When it was last changed."),
	}
}

// errNUL rejects text that PostgreSQL cannot store and no client means to send.
var errNUL = errors.New("must not contain NUL bytes")

// noNUL is a validator for every free-text field.
func noNUL(s string) error {
	if strings.ContainsRune(s, 0) {
		return errNUL
	}
	return nil
}
