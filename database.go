package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, without cgo

	"bitgate/ent"
)

// openDatabase opens the ent client for a database URL and creates or
// upgrades the schema. A "file:" URL is an SQLite file, opened in WAL mode
// with foreign keys on, a busy timeout and immediate transactions (so that a
// transaction that writes never fails to upgrade its lock).
func openDatabase(ctx context.Context, rawURL string) (*ent.Client, error) {
	path, ok := strings.CutPrefix(rawURL, "file:")
	if !ok {
		return nil, fmt.Errorf("unsupported DATABASE_URL %q: want file:PATH", redact(rawURL))
	}
	path, _, _ = strings.Cut(path, "?")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db)))
	if err := client.Schema.Create(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("create schema: %w", err)
	}
	return client, nil
}

// redact hides the password of a database URL, for errors and logs.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
