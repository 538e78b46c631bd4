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
		field.Time("created_at").Default(time.Now).Immutable(),
		field.String("action").Immutable().Comment("what happened, e.g. signin.failed"),
		field.UUID("user_id", uuid.UUID{}).Optional().Nillable().Immutable().
			Comment("the user the event is about").Annotations(entgql.Type("ID")),
		field.UUID("actor_id", uuid.UUID{}).Optional().Nillable().Immutable().
			Comment("the signed-in user who caused it, if another").Annotations(entgql.Type("ID")),
		field.String("client_ip").Default("").Immutable(),
		field.String("request_id").Default("").Immutable(),
		field.String("detail").Default("").Immutable().Comment("a short, secret-free description"),
	}
}

// Indexes serve listing by time.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at")}
}

// Annotations expose audit events as a read-only Relay connection.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
