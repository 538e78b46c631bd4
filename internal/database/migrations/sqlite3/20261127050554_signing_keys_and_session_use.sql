-- Add column "last_used_at" to table: "sessions"
ALTER TABLE `sessions` ADD COLUMN `last_used_at` datetime NULL;
-- Create "signing_keys" table
CREATE TABLE `signing_keys` (`id` text NOT NULL, `algorithm` text NOT NULL, `public_key` blob NOT NULL, `private_key` blob NOT NULL, `created_at` datetime NOT NULL, `active_from` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "signingkey_active_from" to table: "signing_keys"
CREATE INDEX `signingkey_active_from` ON `signing_keys` (`active_from`);
