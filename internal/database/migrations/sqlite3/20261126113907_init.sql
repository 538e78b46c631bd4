-- Create "audit_events" table
CREATE TABLE `audit_events` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `action` text NOT NULL, `user_id` uuid NULL, `actor_id` uuid NULL, `client_ip` text NOT NULL DEFAULT (''), `request_id` text NOT NULL DEFAULT (''), `detail` text NOT NULL DEFAULT (''), PRIMARY KEY (`id`));
-- Create index "auditevent_created_at" to table: "audit_events"
CREATE INDEX `auditevent_created_at` ON `audit_events` (`created_at`);
-- Create "books" table
CREATE TABLE `books` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `title` text NOT NULL, `author` text NOT NULL, `isbn` text NULL, `published_year` integer NULL, PRIMARY KEY (`id`));
-- Create "lockouts" table
CREATE TABLE `lockouts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `email` text NOT NULL, `failures` integer NOT NULL DEFAULT (0), `locked_until` datetime NULL, `updated_at` datetime NOT NULL);
-- Create index "lockouts_email_key" to table: "lockouts"
CREATE UNIQUE INDEX `lockouts_email_key` ON `lockouts` (`email`);
-- Create "notes" table
CREATE TABLE `notes` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `title` text NOT NULL, `content` text NOT NULL, `owner_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `notes_users_notes` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create "sessions" table
CREATE TABLE `sessions` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `refresh_hash` text NOT NULL, `expires_at` datetime NOT NULL, `revoked_at` datetime NULL, `client_ip` text NOT NULL DEFAULT (''), `user_agent` text NOT NULL DEFAULT (''), `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "sessions_refresh_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_refresh_hash_key` ON `sessions` (`refresh_hash`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create "spent_tokens" table
CREATE TABLE `spent_tokens` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `hash` text NOT NULL, `spent_at` datetime NOT NULL, `session_id` uuid NOT NULL, CONSTRAINT `spent_tokens_sessions_spent_tokens` FOREIGN KEY (`session_id`) REFERENCES `sessions` (`id`) ON DELETE CASCADE);
-- Create index "spent_tokens_hash_key" to table: "spent_tokens"
CREATE UNIQUE INDEX `spent_tokens_hash_key` ON `spent_tokens` (`hash`);
-- Create "users" table
CREATE TABLE `users` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `first_name` text NOT NULL, `last_name` text NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, `permission_level` integer NOT NULL DEFAULT (1), PRIMARY KEY (`id`));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
