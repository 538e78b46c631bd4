package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SecretRotation records when an HS256 secret replaced another: the first
// start of any instance with JWT_SECRET and JWT_SECRET_PREVIOUS set to
// that pair. The previous secret verifies for one access-token lifetime
// from then, a moment that neither a restart nor another instance moves.
// Secrets are named by their kids, never stored.
type SecretRotation struct{ ent.Schema }

// Mixin returns the id.
func (SecretRotation) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields returns the pair of kids and when the rotation started.
func (SecretRotation) Fields() []ent.Field {
	return []ent.Field{
		field.String("current_kid").NotEmpty().MaxLen(64).Immutable().Comment("the kid of the new secret"),
		field.String("previous_kid").NotEmpty().MaxLen(64).Immutable().Comment("the kid of the secret it replaced"),
		field.Time("started_at").Immutable().Comment("when the new secret first signed"),
	}
}

// Indexes make a pair recorded once.
func (SecretRotation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("current_kid", "previous_kid").Unique()}
}

// Annotations keep rotations out of GraphQL.
func (SecretRotation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
