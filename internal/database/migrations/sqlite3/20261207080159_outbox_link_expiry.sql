-- Add column "expires_at" to table: "outbox_mails"
ALTER TABLE `outbox_mails` ADD COLUMN `expires_at` datetime NULL;
