package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// AddressLimit is the token bucket of one key (an operation and a client
// address) that every instance on a PostgreSQL database draws from (see
// ratelimit.Shared, which reads and writes it in SQL). On SQLite, whose
// one instance keeps its buckets in memory, the table stays empty.
type AddressLimit struct{ ent.Schema }

// Fields returns the key and the time its bucket is full again: each call
// pushes it one interval (1/AUTH_RATE) further, and a call that would push
// it more than AUTH_BURST intervals past now is refused.
func (AddressLimit) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Unique().Immutable().MaxLen(100),
		field.Time("full_at"),
	}
}

// Annotations keep address limits out of GraphQL.
func (AddressLimit) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
