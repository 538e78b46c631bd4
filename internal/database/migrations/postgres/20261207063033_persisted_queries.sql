-- Create "persisted_queries" table
CREATE TABLE "persisted_queries" ("id" character varying NOT NULL, "query" text NOT NULL, "size" bigint NOT NULL, "created_at" timestamptz NOT NULL, "used_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "persistedquery_created_at" to table: "persisted_queries"
CREATE INDEX "persistedquery_created_at" ON "persisted_queries" ("created_at");
-- Create index "persistedquery_used_at" to table: "persisted_queries"
CREATE INDEX "persistedquery_used_at" ON "persisted_queries" ("used_at");
