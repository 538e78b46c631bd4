package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SigninAttempt is a sign-in whose password is being checked: a place
// reserved against its email's lockout, so that no more passwords are
// checked at once than failures remain before the lock, on any instance.
// It is deleted when the check ends; one left by a crashed instance
// expires at expires_at.
type SigninAttempt struct{ ent.Schema }

// Fields returns the email and when the reservation lapses.
func (SigninAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Immutable().MaxLen(254),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes look attempts up by email, and lapsed ones up by expiry (for
// the prune).
func (SigninAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("email"), index.Fields("expires_at")}
}

// Annotations keep sign-in attempts out of GraphQL.
func (SigninAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
