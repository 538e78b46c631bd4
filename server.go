// Command bitgate is a GraphQL API server with sign-up, sign-in, rotating
// refresh tokens and bitmask permissions built in.
//
// Usage:
//
//	bitgate [serve] [flags]                serve (the default)
//	bitgate create-admin -email E [flags]  create or promote an ADMIN
//	bitgate hash-password < password       hash a password read on stdin
//	bitgate keys list|rotate [flags]       list or rotate the EdDSA signing keys
//	bitgate version                        print the build's versions
//	bitgate help [command]                 print help
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

	"bitgate/internal/account"
	"bitgate/internal/app"
)

func main() {
	os.Exit(exitStatus(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr), os.Stderr))
}

// newApp builds the server for cfg through the constructor the tests use.
func newApp(ctx context.Context, cfg *config, log *slog.Logger) (*app.App, error) {
	signing, err := signingConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	return app.New(ctx, app.Config{
		DatabaseURL: cfg.databaseURL(), Pool: cfg.Pool,
		Signing: signing, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.ReuseGrace,
		HashWorkers: cfg.HashWorkers, HashQueue: cfg.HashQueue,
		AuthRate: cfg.AuthRate, AuthBurst: cfg.AuthBurst, IPv6Prefix: cfg.IPv6Prefix,
		Logger: log, Production: cfg.production(), Limits: cfg.Limits,
		MaxBodyBytes: cfg.MaxBodyBytes, MaxInFlight: cfg.MaxInFlight, CORSOrigins: cfg.CORSOrigins,
		TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLSCertFile != "",
	})
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
	defer a.Close()
	srv := &http.Server{
		Handler:           a.Handler,
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
	go prune(ctx, a.Accounts, log)
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
	if id := account.RequestInfoFrom(ctx).RequestID; id != "" {
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
