-- Add "credential_version" to "users". Written by hand: atlas recreates the
-- table, and its "PRAGMA foreign_keys = off" does nothing inside the
-- migration's transaction, so dropping the old table would cascade to every
-- note and session.
ALTER TABLE `users` ADD COLUMN `credential_version` integer NOT NULL DEFAULT (0);
