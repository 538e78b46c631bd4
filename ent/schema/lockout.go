package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Lockout counts the failed sign-ins in a row for one email, whether or not
// an account has it, so that the lock holds across restarts and instances
// and reveals nothing about which emails exist.
type Lockout struct{ ent.Schema }

// Fields returns the email, its failure count and the lock's end.
func (Lockout) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Unique().Immutable().MaxLen(254),
		field.Int("failures").Default(0),
		field.Time("locked_until").Optional().Nillable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Annotations keep lockouts out of GraphQL.
func (Lockout) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Indexes let the hourly prune find idle counts without reading them all.
func (Lockout) Indexes() []ent.Index {
	return []ent.Index{index.Fields("updated_at")}
}
