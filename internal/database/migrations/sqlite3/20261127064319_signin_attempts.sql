-- Create "signin_attempts" table
CREATE TABLE `signin_attempts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `email` text NOT NULL, `expires_at` datetime NOT NULL);
-- Create index "signinattempt_email" to table: "signin_attempts"
CREATE INDEX `signinattempt_email` ON `signin_attempts` (`email`);
