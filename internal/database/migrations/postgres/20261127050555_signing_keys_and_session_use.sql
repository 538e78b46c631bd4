-- Modify "sessions" table
ALTER TABLE "sessions" ADD COLUMN "last_used_at" timestamptz NULL;
-- Create "signing_keys" table
CREATE TABLE "signing_keys" ("id" character varying NOT NULL, "algorithm" character varying NOT NULL, "public_key" bytea NOT NULL, "private_key" bytea NOT NULL, "created_at" timestamptz NOT NULL, "active_from" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "signingkey_active_from" to table: "signing_keys"
CREATE INDEX "signingkey_active_from" ON "signing_keys" ("active_from");
