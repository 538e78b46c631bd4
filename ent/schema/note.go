package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Note is a private note owned by one user.
type Note struct{ ent.Schema }

// Mixin returns the id and timestamps.
func (Note) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields returns the note fields.
func (Note) Fields() []ent.Field {
	return []ent.Field{
		field.String("title").NotEmpty().MaxLen(500).Validate(noNUL).Comment("Title, 1 to 500 characters."),
		field.Text("content").MaxLen(100_000).Validate(noNUL).Comment("Text, at most 100 000 characters."),
		field.UUID("owner_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges returns the note's owner, set from the caller, never from input.
func (Note) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).Ref("notes").Field("owner_id").Unique().Required().Immutable().
			Comment("The user who wrote the note: the only one who may read it.").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Indexes serve a user's notes page by page, in id order (and deleting a
// user's notes with them).
func (Note) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner_id", "id")}
}

// Annotations make notes a Relay connection with generated create and update inputs.
func (Note) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(
			entgql.MutationCreate().Description("A new note, owned by the caller."),
			entgql.MutationUpdate().Description("Changes to a note. Only the fields given are changed."),
		),
		schema.Comment("A private note: only its owner reads or changes it."),
	}
}
