-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sessions" table
CREATE TABLE `new_sessions` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `refresh_hash` text NOT NULL, `expires_at` datetime NOT NULL, `revoked_at` datetime NULL, `last_used_at` datetime NULL, `client_ip` text NOT NULL DEFAULT (''), `user_agent` text NOT NULL DEFAULT (''), `mfa_required` bool NOT NULL DEFAULT (false), `mfa_passed_at` datetime NULL, `mfa_failures` integer NOT NULL DEFAULT (0), `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "sessions" to new temporary table "new_sessions"
INSERT INTO `new_sessions` (`id`, `created_at`, `updated_at`, `refresh_hash`, `expires_at`, `revoked_at`, `last_used_at`, `client_ip`, `user_agent`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `refresh_hash`, `expires_at`, `revoked_at`, `last_used_at`, `client_ip`, `user_agent`, `user_id` FROM `sessions`;
-- Drop "sessions" table after copying rows
DROP TABLE `sessions`;
-- Rename temporary table "new_sessions" to "sessions"
ALTER TABLE `new_sessions` RENAME TO `sessions`;
-- Create index "sessions_refresh_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_refresh_hash_key` ON `sessions` (`refresh_hash`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create index "session_revoked_at" to table: "sessions"
CREATE INDEX `session_revoked_at` ON `sessions` (`revoked_at`);
-- Create "new_users" table
CREATE TABLE `new_users` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `first_name` text NOT NULL, `last_name` text NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, `permission_level` integer NOT NULL DEFAULT (1), `credential_version` integer NOT NULL DEFAULT (0), `email_verified_at` datetime NULL, `mfa_enabled` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Copy rows from old table "users" to new temporary table "new_users"
INSERT INTO `new_users` (`id`, `created_at`, `updated_at`, `first_name`, `last_name`, `email`, `password_hash`, `permission_level`, `credential_version`, `email_verified_at`) SELECT `id`, `created_at`, `updated_at`, `first_name`, `last_name`, `email`, `password_hash`, `permission_level`, `credential_version`, `email_verified_at` FROM `users`;
-- Drop "users" table after copying rows
DROP TABLE `users`;
-- Rename temporary table "new_users" to "users"
ALTER TABLE `new_users` RENAME TO `users`;
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create "passkeys" table
CREATE TABLE `passkeys` (`id` uuid NOT NULL, `credential_id` blob NOT NULL, `credential` blob NOT NULL, `name` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL, `last_used_at` datetime NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `passkeys_users_passkeys` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "passkeys_credential_id_key" to table: "passkeys"
CREATE UNIQUE INDEX `passkeys_credential_id_key` ON `passkeys` (`credential_id`);
-- Create index "passkey_user_id" to table: "passkeys"
CREATE INDEX `passkey_user_id` ON `passkeys` (`user_id`);
-- Create "recovery_codes" table
CREATE TABLE `recovery_codes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `hash` text NOT NULL, `created_at` datetime NOT NULL, `user_id` uuid NOT NULL, CONSTRAINT `recovery_codes_users_recovery_codes` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "recovery_codes_hash_key" to table: "recovery_codes"
CREATE UNIQUE INDEX `recovery_codes_hash_key` ON `recovery_codes` (`hash`);
-- Create index "recoverycode_user_id" to table: "recovery_codes"
CREATE INDEX `recoverycode_user_id` ON `recovery_codes` (`user_id`);
-- Create "totps" table
CREATE TABLE `totps` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `secret` blob NOT NULL, `created_at` datetime NOT NULL, `confirmed_at` datetime NULL, `last_step` integer NOT NULL DEFAULT (0), `user_id` uuid NOT NULL, CONSTRAINT `totps_users_totp` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "totps_user_id_key" to table: "totps"
CREATE UNIQUE INDEX `totps_user_id_key` ON `totps` (`user_id`);
-- Create "webauthn_challenges" table
CREATE TABLE `webauthn_challenges` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `challenge` text NOT NULL, `ceremony` text NOT NULL, `user_id` uuid NULL, `session_id` uuid NULL, `data` blob NOT NULL, `expires_at` datetime NOT NULL);
-- Create index "webauthn_challenges_challenge_key" to table: "webauthn_challenges"
CREATE UNIQUE INDEX `webauthn_challenges_challenge_key` ON `webauthn_challenges` (`challenge`);
-- Create index "webauthnchallenge_expires_at" to table: "webauthn_challenges"
CREATE INDEX `webauthnchallenge_expires_at` ON `webauthn_challenges` (`expires_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
