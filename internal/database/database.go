// Package database opens the ent client on the configured database and
// brings its schema up to date.
package database

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

// Open opens the ent client for a database URL, with extra client options,
// and creates or upgrades the schema. A "file:" URL is an SQLite file, opened in WAL mode
// with foreign keys on, a busy timeout and immediate transactions (so that a
// transaction that writes never fails to upgrade its lock).
func Open(ctx context.Context, rawURL string, opts ...ent.Option) (*ent.Client, error) {
	path, ok := strings.CutPrefix(rawURL, "file:")
	if !ok {
		return nil, fmt.Errorf("unsupported DATABASE_URL %q: want file:PATH", Redact(rawURL))
	}
	path, _, _ = strings.Cut(path, "?")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// The file holds password hashes: readable by its owner only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	f.Close()
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	client := ent.NewClient(append([]ent.Option{ent.Driver(entsql.OpenDB(dialect.SQLite, db))}, opts...)...)
	if err := client.Schema.Create(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("create schema: %w", err)
	}
	return client, nil
}

// Redact hides the password of a database URL, for errors and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
