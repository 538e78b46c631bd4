package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"bitgate/internal/database"
)

func TestIsUnavailable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("load user: %w", err) }
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadline", wrap(context.DeadlineExceeded), true},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"bad connection", wrap(sql.ErrConnDone), true},
		{"PostgreSQL shutting down", wrap(&pgconn.PgError{Code: "57P01"}), true},
		{"PostgreSQL out of connections", wrap(&pgconn.PgError{Code: "53300"}), true},
		{"PostgreSQL statement timeout", wrap(&pgconn.PgError{Code: "57014"}), true},
		{"PostgreSQL read-only (a standby)", wrap(&pgconn.PgError{Code: "25006"}), true},
		{"PostgreSQL I/O error", wrap(&pgconn.PgError{Code: "58030"}), true},
		{"PostgreSQL data corrupted", wrap(&pgconn.PgError{Code: "XX001"}), false},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"syntax error", wrap(&pgconn.PgError{Code: "42601"}), false},
		{"no rows", wrap(sql.ErrNoRows), false},
		{"client gone", wrap(context.Canceled), false},
		{"a bug", errors.New("nil map"), false},
	} {
		if got := database.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
