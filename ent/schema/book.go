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
		field.String("title").NotEmpty().MaxLen(500).Validate(noNUL).Comment("Title, 1 to 500 characters."),
		field.String("author").NotEmpty().MaxLen(300).Validate(noNUL).Comment("Author, 1 to 300 characters."),
		field.String("isbn").Optional().Nillable().MaxLen(20).Validate(noNUL).
			Comment("ISBN as written, at most 20 characters; null when unknown."),
		field.Int("published_year").Optional().Nillable().Range(0, 9999).
			Comment("Year of publication, 0 to 9999; null when unknown."),
	}
}

// Annotations make books a Relay connection with generated create and update inputs.
func (Book) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(
			entgql.MutationCreate().Description("A new book."),
			entgql.MutationUpdate().Description("Changes to a book. Only the fields given are changed."),
		),
		schema.Comment("An entry of the shared catalogue: anyone may read books, an ADMIN changes them."),
	}
}
