-- Create index "signinattempt_expires_at" to table: "signin_attempts"
CREATE INDEX `signinattempt_expires_at` ON `signin_attempts` (`expires_at`);
