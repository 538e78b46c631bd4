package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// OutboxMail is a mail waiting to be sent, or sent or dropped lately: the
// outbox of internal/mail. It is written in the transaction of what it
// tells (a token, a change), rendered already, so that it is queued if and
// only if that commits, and sent as it was rendered whatever changes
// afterwards. A background sender claims a pending row by pushing due_at
// past the time a send may take (a lease): if the sender dies, the row is
// due again when that passes. A sent or dropped row loses its bodies at
// once (they may hold a token) and is pruned later; a link's mail not sent
// when its token expires is dropped then, so that no live token waits in
// the outbox longer than it works.
type OutboxMail struct{ ent.Schema }

// Mixin gives outbox mails a time-ordered id.
func (OutboxMail) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields returns the rendered mail and its delivery state.
func (OutboxMail) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Comment("when it was queued"),
		field.String("kind").NotEmpty().MaxLen(64).Immutable().Comment("the template that rendered it, e.g. verify-email"),
		field.String("recipient").NotEmpty().MaxLen(254).Immutable(),
		field.Text("subject").Immutable(),
		field.Text("text_body").Sensitive().Comment("the text part; emptied once sent or dropped"),
		field.Text("html_body").Sensitive().Comment("the HTML part; emptied once sent or dropped"),
		field.Enum("state").Values("pending", "sent", "dropped").Default("pending"),
		field.Time("due_at").Comment("pending: when it may be claimed next (its next attempt, or the end of a sender's lease)"),
		field.Int("attempts").Default(0).Comment("claims so far"),
		field.String("last_error").Default("").MaxLen(1000).Comment("why the last attempt failed"),
		field.Time("done_at").Optional().Nillable().Comment("when it was sent or dropped"),
		field.Time("expires_at").Optional().Nillable().Immutable().Comment("a link's mail: when its token expires, and the mail is dropped if still pending"),
	}
}

// Indexes let a sender find the due mail, the prune the old ones, and the
// per-address limit the latest mails of a kind to an address, without
// reading them all.
func (OutboxMail) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("state", "due_at"), index.Fields("done_at"),
		index.Fields("recipient", "kind", "created_at"),
	}
}

// Annotations keep the outbox out of GraphQL.
func (OutboxMail) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
