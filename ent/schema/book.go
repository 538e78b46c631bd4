package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Book is an entry of the shared catalogue.
type Book struct{ ent.Schema }

// Mixin returns the id and timestamps.
func (Book) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields returns the book fields.
func (Book) Fields() []ent.Field {
	return []ent.Field{
		field.String("title").NotEmpty().MaxLen(500).Validate(noNUL),
		field.String("author").NotEmpty().MaxLen(300).Validate(noNUL),
		field.String("isbn").Optional().Nillable().MaxLen(20).Validate(noNUL),
		field.Int("published_year").Optional().Nillable().Range(0, 9999),
	}
}

// Annotations make books a Relay connection with generated create and update inputs.
func (Book) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
