package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is an account that can sign in.
type User struct{ ent.Schema }

// Mixin returns the id and timestamps.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields returns the user fields. The email is stored normalised (trimmed,
// lower-cased) by the code that writes it; the password hash and its
// version are never exposed.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("first_name").MaxLen(100).Comment("Given name, 1 to 100 characters."),
		field.String("last_name").MaxLen(100).Comment("Family name, 1 to 100 characters."),
		field.String("email").MaxLen(254).Unique().Comment("Sign-in email, trimmed and lower-cased; unique."),
		field.String("password_hash").Sensitive().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("permission_level").Default(1).NonNegative().
			Comment("Bitmask of the Permission bits: FREE = 1, PAID = 4, ADMIN = 2048 (permissions decodes it)."),
		// credential_version goes up with every new password. A sign-in
		// stores its session only if the version it read with the hash it
		// verified is still current, so a sign-in racing a password change
		// cannot keep a session.
		field.Int("credential_version").Default(0).NonNegative().Annotations(entgql.Skip(entgql.SkipAll)),
		// email_verified_at is when the user proved that the email is
		// theirs (a link in a mail, a password reset), or when an operator
		// vouched for it (createUser, create-admin); null until then, and
		// again after the email changes. Accounts older than the column are
		// unverified. The API shows it as emailVerified.
		field.Time("email_verified_at").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)),
		// mfa_enabled is kept by the transactions that add and remove
		// second factors, so that a sign-in knows without reading them.
		// The API shows it as mfaEnabled, to the user and ADMINs only
		// (schema.graphql).
		field.Bool("mfa_enabled").Default(false).Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("Whether a second factor is set up (TOTP or a passkey): sign-ins with the password then need it."),
	}
}

// Edges returns the user's notes, sessions, email tokens and second
// factors, all deleted with the user and none reachable through the user's
// edges in GraphQL.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("notes", Note.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("sessions", Session.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("email_tokens", EmailToken.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("totp", Totp.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("recovery_codes", RecoveryCode.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
		edge.To("passkeys", Passkey.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
	}
}

// Annotations make users a Relay connection; their inputs are hand-written.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		schema.Comment("A person who can sign in. The user themself and an ADMIN may read it."),
	}
}
