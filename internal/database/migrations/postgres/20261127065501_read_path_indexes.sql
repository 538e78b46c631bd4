-- Create index "lockout_updated_at" to table: "lockouts"
CREATE INDEX "lockout_updated_at" ON "lockouts" ("updated_at");
-- Create index "note_owner_id_id" to table: "notes"
CREATE INDEX "note_owner_id_id" ON "notes" ("owner_id", "id");
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX "session_expires_at" ON "sessions" ("expires_at");
-- Create index "session_revoked_at" to table: "sessions"
CREATE INDEX "session_revoked_at" ON "sessions" ("revoked_at");
-- Create index "spenttoken_session_id" to table: "spent_tokens"
CREATE INDEX "spenttoken_session_id" ON "spent_tokens" ("session_id");
