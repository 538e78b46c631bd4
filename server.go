// Command bitgate is a GraphQL API server with sign-up, sign-in, rotating
// refresh tokens and bitmask permissions built in.
//
// Usage:
//
//	bitgate [flags]                        serve (the default)
//	bitgate create-admin -email E [flags]  create or promote an ADMIN
//	bitgate hash-password                  hash a password read on stdin
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"bitgate/auth"
	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/database"
	"bitgate/internal/ratelimit"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bitgate:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "create-admin" || args[0] == "hash-password") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "create-admin":
		return createAdmin(args, getenv, stdin, stdout, stderr)
	case "hash-password":
		return hashPassword(stdin, stdout)
	}
	cfg, err := parseConfig("bitgate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	return serve(cfg, stderr)
}

// app is the wired server: database, services and HTTP handler.
type app struct {
	client   *ent.Client
	accounts *account.Service
	handler  http.Handler
	log      *slog.Logger
}

// newApp opens the database and wires the services for cfg.
func newApp(ctx context.Context, cfg *config, log *slog.Logger) (*app, error) {
	secret, err := signingSecret(cfg)
	if err != nil {
		return nil, err
	}
	client, err := database.Open(ctx, cfg.databaseURL(), cfg.Pool)
	if err != nil {
		return nil, err
	}
	accounts := account.NewService(client,
		auth.NewTokens(secret, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTTL),
		auth.NewHasher(cfg.HashWorkers, cfg.HashQueue),
		account.Options{
			RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.ReuseGrace, Logger: log,
			Limiter: ratelimit.New(cfg.AuthRate, cfg.AuthBurst),
		})
	h := graph.NewHandler(graph.HandlerConfig{
		Client: client, Accounts: accounts, Logger: log,
		Production: cfg.production(), MaxBodyBytes: cfg.MaxBodyBytes, MaxInFlight: cfg.MaxInFlight, Limits: cfg.Limits,
		CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLSCertFile != "",
	})
	return &app{client: client, accounts: accounts, handler: h, log: log}, nil
}

// serve runs the HTTP server until SIGINT or SIGTERM.
func serve(cfg *config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.client.Close()
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	go prune(ctx, a.accounts, log)
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("env", cfg.Env))
	return serveUntil(ctx, srv, ln, cfg, log)
}

// serveUntil serves on ln (with TLS when cfg names a certificate) until ctx
// ends, then stops accepting connections and lets in-flight requests finish
// within cfg.ShutdownTimeout.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, cfg *config, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// prune deletes ended sessions and stale lockouts now and every hour until
// ctx ends.
func prune(ctx context.Context, accounts *account.Service, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := accounts.Prune(ctx); err != nil {
			log.ErrorContext(ctx, "prune", slog.Any("error", err))
		} else if n > 0 {
			log.InfoContext(ctx, "pruned ended sessions and stale lockouts", slog.Int("rows", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newLogger logs text in development and JSON in production.
func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.production() {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds the request id of the context to every record.
type requestIDHandler struct{ slog.Handler }

// Handle adds request_id when the context has one.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := account.ClientFrom(ctx).RequestID; id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
