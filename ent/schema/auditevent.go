package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuditEvent is a security event: a sign-in, a detected token reuse, a
// permission change. It names users by id, without edges, so that it
// outlives them. It never holds a secret.
type AuditEvent struct{ ent.Schema }

// Mixin returns the id.
func (AuditEvent) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields returns the event fields.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().Comment("When it happened."),
		field.String("action").Immutable().Comment("What happened, e.g. signin.failed."),
		field.UUID("user_id", uuid.UUID{}).Optional().Nillable().Immutable().
			Comment("The user the event is about, if any.").Annotations(entgql.Type("ID")),
		field.UUID("actor_id", uuid.UUID{}).Optional().Nillable().Immutable().
			Comment("The signed-in user who caused it, if another.").Annotations(entgql.Type("ID")),
		field.String("client_ip").Default("").Immutable().Comment("The address of the client that made the request."),
		field.String("request_id").Default("").Immutable().Comment("The X-Request-ID of the request, which its log lines carry."),
		field.String("detail").Default("").Immutable().Comment("A short description, free of secrets."),
	}
}

// Indexes serve listing by time.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at")}
}

// Annotations expose audit events as a read-only Relay connection.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		schema.Comment("A security event: a sign-up, a sign-in or a failed one, a detected refresh token reuse, a change of permission, email or password, a deletion. Only an ADMIN reads them."),
	}
}
