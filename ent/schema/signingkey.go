package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SigningKey is an asymmetric key pair that signs access tokens (with
// JWT_ALG=EdDSA), shared by every instance. Its private half is stored only
// encrypted with the key-encryption key. Rows are never changed: a rotation
// adds a key whose active_from is later, and the key it replaces keeps
// verifying until the tokens it signed have expired.
type SigningKey struct{ ent.Schema }

// Fields returns the kid, the key pair and when the key signs from.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(64).Immutable().
			Comment("the kid: the key's RFC 7638 thumbprint"),
		field.String("algorithm").NotEmpty().Immutable().Comment("the JWS alg, e.g. EdDSA"),
		field.Bytes("public_key").NotEmpty().Immutable(),
		field.Bytes("private_key").NotEmpty().Immutable().Sensitive().
			Comment("the private key, encrypted with the key-encryption key"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("active_from").Immutable().
			Comment("when the key starts to sign; until then it is only published"),
	}
}

// Indexes serve finding the current key.
func (SigningKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("active_from")}
}

// Annotations keep signing keys out of GraphQL.
func (SigningKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
