-- Modify "outbox_mails" table
ALTER TABLE "outbox_mails" ADD COLUMN "expires_at" timestamptz NULL;
