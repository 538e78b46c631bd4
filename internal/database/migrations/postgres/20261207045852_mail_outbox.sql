-- Create "outbox_mails" table
CREATE TABLE "outbox_mails" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "recipient" character varying NOT NULL, "subject" text NOT NULL, "text_body" text NOT NULL, "html_body" text NOT NULL, "state" character varying NOT NULL DEFAULT 'pending', "due_at" timestamptz NOT NULL, "attempts" bigint NOT NULL DEFAULT 0, "last_error" character varying NOT NULL DEFAULT '', "done_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "outboxmail_done_at" to table: "outbox_mails"
CREATE INDEX "outboxmail_done_at" ON "outbox_mails" ("done_at");
-- Create index "outboxmail_state_due_at" to table: "outbox_mails"
CREATE INDEX "outboxmail_state_due_at" ON "outbox_mails" ("state", "due_at");
