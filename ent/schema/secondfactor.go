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

// Totp is a user's TOTP secret (RFC 6238), at most one per user: enrolled
// (not confirmed yet, inactive) or confirmed (active). The secret is
// sealed with the TOTP key-encryption key, bound to the user's id.
type Totp struct{ ent.Schema }

// Fields returns the owner, the sealed secret, its confirmation and the
// last time step a code was accepted for.
func (Totp) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Unique().Immutable(),
		field.Bytes("secret").Sensitive(),
		field.Time("created_at").Default(time.Now),
		field.Time("confirmed_at").Optional().Nillable().Comment("null until confirmTotp: the secret is not active yet"),
		field.Int64("last_step").Default(0).Comment("the time step (Unix time / 30 s) of the last accepted code; a code of that step or before is refused"),
	}
}

// Edges returns the owner.
func (Totp) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("totp").Field("user_id").Unique().Required().Immutable(),
	}
}

// Annotations keep TOTP secrets out of GraphQL.
func (Totp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// RecoveryCode is one single-use recovery code of a user, stored as a
// hash; using it deletes it.
type RecoveryCode struct{ ent.Schema }

// Fields returns the owner and the code's hash.
func (RecoveryCode) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.String("hash").Unique().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges returns the owner.
func (RecoveryCode) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("recovery_codes").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes serve counting a user's codes and deleting them.
func (RecoveryCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Annotations keep recovery codes out of GraphQL.
func (RecoveryCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Passkey is a WebAuthn credential of a user: a second factor, and a way
// to sign in without a password.
type Passkey struct{ ent.Schema }

// Mixin returns the id.
func (Passkey) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields returns the owner, the credential and its name.
func (Passkey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.Bytes("credential_id").Unique().Immutable().MaxLen(1023),
		field.Bytes("credential").Comment("the credential as go-webauthn's Credential in JSON: public key, sign count, flags"),
		field.String("name").Default("").MaxLen(100).Validate(noNUL),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

// Edges returns the owner.
func (Passkey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("passkeys").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes serve listing a user's passkeys.
func (Passkey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Annotations keep passkeys out of entgql's generated schema; the type is
// written by hand in schema.graphql.
func (Passkey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// WebauthnChallenge is a WebAuthn ceremony begun and not finished yet: its
// challenge and go-webauthn's session data. Any instance may finish what
// another began; finishing deletes it (single use), and it lapses at
// expires_at.
type WebauthnChallenge struct{ ent.Schema }

// Fields returns the challenge, the ceremony and whom it is for.
func (WebauthnChallenge) Fields() []ent.Field {
	return []ent.Field{
		field.String("challenge").Unique().Immutable().Comment("base64url, as in the client's clientDataJSON"),
		field.Enum("ceremony").Values("registration", "signin", "verification").Immutable(),
		field.UUID("user_id", uuid.UUID{}).Optional().Nillable().Immutable().Comment("registration and verification: the user"),
		field.UUID("session_id", uuid.UUID{}).Optional().Nillable().Immutable().Comment("registration and verification: the session that began it"),
		field.Bytes("data").Immutable().Comment("go-webauthn's SessionData in JSON"),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes let the hourly prune find lapsed challenges.
func (WebauthnChallenge) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations keep challenges out of GraphQL.
func (WebauthnChallenge) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
