package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// SpentToken records the hash of a refresh token that a rotation replaced,
// so that presenting it again is recognised as reuse of its session's tokens.
type SpentToken struct{ ent.Schema }

// Fields returns the hash, its session and when it was spent.
func (SpentToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("hash").Unique().Immutable(),
		field.UUID("session_id", uuid.UUID{}).Immutable(),
		field.Time("spent_at").Default(time.Now).Immutable(),
	}
}

// Edges returns the session the token belonged to.
func (SpentToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("session", Session.Type).Ref("spent_tokens").Field("session_id").Unique().Required().Immutable(),
	}
}

// Indexes serve deleting a session's spent tokens with it.
func (SpentToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("session_id")}
}

// Annotations keep spent tokens out of GraphQL.
func (SpentToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
