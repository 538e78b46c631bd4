package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Session is one sign-in: a family of rotating refresh tokens. Only the hash
// of the current refresh token is kept here; spent ones are SpentTokens.
// Revoking the session ends its refresh token and its access tokens at once.
type Session struct{ ent.Schema }

// Mixin returns the id and timestamps.
func (Session) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields returns the session fields.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.String("refresh_hash").Unique(),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.Time("last_used_at").Optional().Nillable().
			Comment("the last sign-in or refresh; null for sessions older than the column"),
		field.String("client_ip").Default("").MaxLen(64).Comment("as of the last sign-in or refresh"),
		field.String("user_agent").Default("").MaxLen(512).Comment("as of the last sign-in or refresh"),
		// The session's second factor, read on every request with the
		// session itself (see internal/account Authenticate).
		field.Bool("mfa_required").Default(false).
			Comment("waits for a second factor: nothing but me, verifySecondFactor and signout answers until it passes one"),
		field.Time("mfa_passed_at").Optional().Nillable().Comment("when the session passed a second factor"),
		field.Int("mfa_failures").Default(0).NonNegative().Comment("wrong second-factor codes sent in the session"),
	}
}

// Edges returns the owner and the spent refresh tokens.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").Unique().Required().Immutable(),
		edge.To("spent_tokens", SpentToken.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes speed up "all sessions of a user", and let the hourly prune
// find the ended sessions without reading them all.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id"), index.Fields("expires_at"), index.Fields("revoked_at")}
}

// Annotations keep sessions out of GraphQL.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
