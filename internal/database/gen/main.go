//go:build ignore

// Command gen writes a new versioned migration for each dialect: the
// statements that take a database from the existing migrations to the ent
// schema. Run it from the repository root after changing ent/schema (and
// `go generate ./...`):
//
//	MIGRATE_DEV_DATABASE_URL=postgres://…/scratch go run ./internal/database/gen/main.go NAME
//
// The PostgreSQL dev database must be empty; it is only used to compute the
// difference. SQLite uses a temporary file.
//
// After a merge that brought migrations from two branches, keep both files
// (the later timestamp last) and recompute each dialect's atlas.sum:
//
//	go run ./internal/database/gen/main.go -rehash
package main

import (
	"context"
	"database/sql"
	"log"
	"os"
	"path/filepath"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"bitgate/ent/migrate"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatalf("usage: go run ./internal/database/gen/main.go NAME|-rehash")
	}
	name := os.Args[1]
	if name == "-rehash" {
		rehash(dialect.SQLite)
		rehash(dialect.Postgres)
		return
	}
	dev := os.Getenv("MIGRATE_DEV_DATABASE_URL")
	if dev == "" {
		log.Fatalf("MIGRATE_DEV_DATABASE_URL must name an empty PostgreSQL database")
	}
	tmp, err := os.MkdirTemp("", "migrate-dev")
	if err != nil {
		log.Fatalf("creating temporary directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	diff(dialect.SQLite, "sqlite", "file:"+filepath.Join(tmp, "dev.db")+"?_pragma=foreign_keys(1)", name)
	diff(dialect.Postgres, "pgx", dev, name)
}

// diff writes the migration of one dialect.
func diff(d, driver, dsn, name string) {
	ctx := context.Background()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Fatalf("opening %s dev database: %v", d, err)
	}
	defer db.Close()
	dir, err := atlas.NewLocalDir(filepath.Join("internal", "database", "migrations", d))
	if err != nil {
		log.Fatalf("opening %s migration directory: %v", d, err)
	}
	m, err := schema.NewMigrate(entsql.OpenDB(d, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithFormatter(atlas.DefaultFormatter),
	)
	if err != nil {
		log.Fatalf("creating %s migrator: %v", d, err)
	}
	if err := m.NamedDiff(ctx, name, migrate.Tables...); err != nil {
		log.Fatalf("writing %s migration: %v", d, err)
	}
}

// rehash rewrites the atlas.sum of dialect d's migration directory from
// the files in it.
func rehash(d string) {
	dir, err := atlas.NewLocalDir(filepath.Join("internal", "database", "migrations", d))
	if err != nil {
		log.Fatalf("opening %s migration directory: %v", d, err)
	}
	sum, err := dir.Checksum()
	if err != nil {
		log.Fatalf("hashing %s migrations: %v", d, err)
	}
	if err := atlas.WriteSumFile(dir, sum); err != nil {
		log.Fatalf("writing %s atlas.sum: %v", d, err)
	}
}
