-- Create "secret_rotations" table
CREATE TABLE `secret_rotations` (`id` uuid NOT NULL, `current_kid` text NOT NULL, `previous_kid` text NOT NULL, `started_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "secretrotation_current_kid_previous_kid" to table: "secret_rotations"
CREATE UNIQUE INDEX `secretrotation_current_kid_previous_kid` ON `secret_rotations` (`current_kid`, `previous_kid`);
