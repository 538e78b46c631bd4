-- Create "address_limits" table
CREATE TABLE `address_limits` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `key` text NOT NULL, `full_at` datetime NOT NULL);
-- Create index "address_limits_key_key" to table: "address_limits"
CREATE UNIQUE INDEX `address_limits_key_key` ON `address_limits` (`key`);
