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

// EmailToken is the token of a link in a mail: a verification of the
// user's email, a password reset, or the confirmation of an email change.
// Only its hash is kept. It works once, until expires_at, and only while
// the user's email and credential version are those it was issued with,
// so that a new password ends it, and so does a change of the address it
// was sent about. A user has at most one of each kind: a newer request
// replaces it.
type EmailToken struct{ ent.Schema }

// Mixin gives email tokens a time-ordered id.
func (EmailToken) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields returns the token's hash, kind, bindings and lifetime.
func (EmailToken) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.Enum("kind").Values("verify_email", "reset_password", "change_email").Immutable(),
		field.String("token_hash").Unique().Immutable().Sensitive().
			Comment("hex SHA-256 of the token: a token carries 256 random bits"),
		field.String("email").MaxLen(254).Immutable().
			Comment("the user's email when the token was issued; the token works only while it is still theirs"),
		field.String("new_email").Optional().MaxLen(254).Immutable().
			Comment("change_email: the address the email changes to"),
		field.Int("credential_version").Immutable().
			Comment("the user's credential version when the token was issued; a new password moves it on, and ends the token"),
		field.Time("created_at").Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Edges returns the user, whose deletion deletes their tokens.
func (EmailToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("email_tokens").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes keep one token of each kind per user, and let the hourly prune
// find the expired ones without reading them all.
func (EmailToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "kind").Unique(), index.Fields("expires_at")}
}

// Annotations keep email tokens out of GraphQL.
func (EmailToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
