package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PersistedQuery is a query a client registered with Apollo's automatic
// persisted queries: its text under its SHA-256 hash, which every instance
// on the database then runs from the hash alone (see persisted.Queries,
// which bounds and prunes the table).
type PersistedQuery struct{ ent.Schema }

// Fields returns the hash (the id), the query, its size in bytes, when it
// was registered and when a client last ran it by its hash.
func (PersistedQuery) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").MinLen(64).MaxLen(64).Immutable().
			Comment("The query's SHA-256 hash, 64 lower-case hex digits."),
		field.Text("query").Immutable(),
		field.Int("size").NonNegative().Immutable().
			Comment("The query's length in bytes, for the bound on the table's bytes."),
		field.Time("created_at").Immutable(),
		field.Time("used_at").Optional().Nillable().
			Comment("When an instance last ran it by its hash (at most once an hour per instance); null until then."),
	}
}

// Indexes let the prune find the rows to delete without reading them all.
func (PersistedQuery) Indexes() []ent.Index {
	return []ent.Index{index.Fields("used_at"), index.Fields("created_at")}
}

// Annotations keep persisted queries out of GraphQL.
func (PersistedQuery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
