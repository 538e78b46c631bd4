-- Create "outbox_mails" table
CREATE TABLE `outbox_mails` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `kind` text NOT NULL, `recipient` text NOT NULL, `subject` text NOT NULL, `text_body` text NOT NULL, `html_body` text NOT NULL, `state` text NOT NULL DEFAULT ('pending'), `due_at` datetime NOT NULL, `attempts` integer NOT NULL DEFAULT (0), `last_error` text NOT NULL DEFAULT (''), `done_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "outboxmail_state_due_at" to table: "outbox_mails"
CREATE INDEX `outboxmail_state_due_at` ON `outbox_mails` (`state`, `due_at`);
-- Create index "outboxmail_done_at" to table: "outbox_mails"
CREATE INDEX `outboxmail_done_at` ON `outbox_mails` (`done_at`);
