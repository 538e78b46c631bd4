-- Create index "note_owner_id_id" to table: "notes"
CREATE INDEX "note_owner_id_id" ON "notes" ("owner_id", "id");
-- Create index "spenttoken_session_id" to table: "spent_tokens"
CREATE INDEX "spenttoken_session_id" ON "spent_tokens" ("session_id");
