-- Create index "outboxmail_recipient_kind_created_at" to table: "outbox_mails"
CREATE INDEX "outboxmail_recipient_kind_created_at" ON "outbox_mails" ("recipient", "kind", "created_at");
-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamptz NULL;
-- Create "email_tokens" table
CREATE TABLE "email_tokens" ("id" uuid NOT NULL, "kind" character varying NOT NULL, "token_hash" character varying NOT NULL, "email" character varying NOT NULL, "new_email" character varying NULL, "credential_version" bigint NOT NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "user_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "email_tokens_users_email_tokens" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "email_tokens_token_hash_key" to table: "email_tokens"
CREATE UNIQUE INDEX "email_tokens_token_hash_key" ON "email_tokens" ("token_hash");
-- Create index "emailtoken_expires_at" to table: "email_tokens"
CREATE INDEX "emailtoken_expires_at" ON "email_tokens" ("expires_at");
-- Create index "emailtoken_user_id_kind" to table: "email_tokens"
CREATE UNIQUE INDEX "emailtoken_user_id_kind" ON "email_tokens" ("user_id", "kind");
