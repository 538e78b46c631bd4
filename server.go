package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"bitgate/internal/app"
	"bitgate/internal/metrics"
)

// newApp builds the server for cfg through the constructor the tests use,
// with the signing keys' material (see signingConfig) and the TOTP
// secrets' key (totpKey), a logger, HSTS when serving TLS, metrics when
// they are served, and the data directory's mail/ for mail without
// SMTP_URL.
func newApp(ctx context.Context, cfg *config, log *slog.Logger) (*app.App, error) {
	ac := cfg.App
	var err error
	if ac.Signing, err = signingConfig(cfg, log); err != nil {
		return nil, err
	}
	if ac.TOTPKey, err = totpKey(cfg, log); err != nil {
		return nil, err
	}
	ac.Logger, ac.HTTP.TLS, ac.MailDir = log, cfg.TLSCertFile != "", filepath.Join(cfg.DataDir, "mail")
	if cfg.MetricsAddr != "" {
		ac.Metrics = metrics.New()
	}
	return app.New(ctx, ac)
}

// serve runs the server until SIGINT or SIGTERM, then shuts it down in
// order (see serveUntil). A second signal ends the process at once. mem is
// the memory limit it runs under, for the log.
func serve(cfg *config, stderr io.Writer, mem memoryLimit) error {
	log := newLogger(cfg, stderr)
	log.Info("memory limit", slog.Int64("bytes", mem.bytes), slog.String("from", mem.from))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // the next signal is not caught: it ends the process
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	lns, err := listen(cfg)
	if err != nil {
		a.Close()
		return err
	}
	return serveUntil(ctx, a, lns, cfg, log)
}

// listeners are the addresses the server serves on.
type listeners struct {
	api     net.Listener
	metrics net.Listener // nil without METRICS_ADDR
}

// listen listens on cfg.Addr, and on cfg.MetricsAddr if set.
func listen(cfg *config) (listeners, error) {
	var lns listeners
	var err error
	if lns.api, err = net.Listen("tcp", cfg.Addr); err != nil {
		return lns, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.MetricsAddr != "" {
		if lns.metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			lns.api.Close()
			return lns, fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
	}
	return lns, nil
}

// cancelGrace is how long the handlers of requests cancelled at the end of
// SHUTDOWN_TIMEOUT get to return.
const cancelGrace = 5 * time.Second

// serveUntil serves a on lns.api (with TLS when cfg names a certificate),
// and its metrics at /metrics on lns.metrics if set, and runs its mail
// sender and the hourly prune, until ctx ends; then it shuts down in the
// order load balancers expect, and closes a (the metrics are served to the
// end):
//
//  1. Drain for cfg.ShutdownDrain: /readyz answers 503 and every response
//     closes its connection (see app.App.Drain), while the server still
//     accepts and serves, so that balancers see it leave and clients move
//     on without a request lost.
//  2. Stop accepting connections, close idle ones, and let the requests in
//     flight finish within cfg.ShutdownTimeout; then cancel the requests
//     left and give their handlers cancelGrace to return.
//  3. Stop the prune and the mail sender (a mail being sent is cut off:
//     it goes out again when its lease lapses, from this instance's next
//     start or another instance; queued mail waits in the outbox alike).
//  4. Close the database once the account work that requests left to run
//     after their answer is done (see app.App.Close), never under a
//     running handler: if one still runs, serveUntil returns without
//     closing it, and the process's exit does.
//
// Returns an error if serving fails, or if requests had to be cancelled.
func serveUntil(ctx context.Context, a *app.App, lns listeners, cfg *config, log *slog.Logger) error {
	requests, cancel := context.WithCancelCause(context.Background())
	cancelRequests := func() { cancel(errCancelledByShutdown) }
	defer cancelRequests()
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30*time.Second + cfg.App.HTTP.RequestTimeout + 10*time.Second, // body, handling, answer
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return requests },
	}
	background, stopBackground := context.WithCancel(ctx)
	var stopped sync.WaitGroup
	stopped.Go(func() { prune(background, a, log) })
	stopped.Go(func() { a.Mailer.Run(background) })
	if lns.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: srv.ErrorLog}
		go msrv.Serve(lns.metrics) //nolint:errcheck // ends with Close
		defer msrv.Close()
		log.Info("serving metrics", slog.String("addr", lns.metrics.Addr().String()+"/metrics"))
	}
	ln := lns.api
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("env", cfg.App.Env))
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		log.Info("draining: /readyz answers 503, requests are still served; a second signal stops at once",
			slog.Duration("drain", cfg.ShutdownDrain))
		a.Drain()
		time.Sleep(cfg.ShutdownDrain)
		log.Info("shutting down: no new connections; requests in flight may finish",
			slog.Duration("timeout", cfg.ShutdownTimeout))
	}
	if err := shutdown(srv, cfg.ShutdownTimeout, cancelRequests, log); err != nil {
		serveErr = errors.Join(serveErr, err)
	}
	stopBackground()
	stopped.Wait()
	if errors.Is(serveErr, errHandlersRunning) {
		return serveErr
	}
	if err := a.Close(); err != nil {
		return errors.Join(serveErr, err)
	}
	log.Info("stopped")
	return serveErr
}

// errHandlersRunning is returned by shutdown when handlers still run after
// their requests were cancelled.
var errHandlersRunning = errors.New("handlers still running")

// errCancelledByShutdown is why requests still running after
// SHUTDOWN_TIMEOUT end: their contexts' cause, which tells them from
// requests whose client hung up (context.Canceled itself, see
// metrics.Instrument). It wraps context.Canceled, so that errors made of
// the cause still read as a cancellation.
var errCancelledByShutdown = fmt.Errorf("request cancelled by the shutdown: %w", context.Canceled)

// shutdown stops srv accepting and waits for its requests in flight to end
// within timeout; it then cancels them (cancelRequests) and waits
// cancelGrace more. Returns nil when the requests finished in time, an
// error saying they were cancelled, or one wrapping errHandlersRunning.
func shutdown(srv *http.Server, timeout time.Duration, cancelRequests func(), log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if srv.Shutdown(ctx) == nil {
		return nil
	}
	log.Warn("requests still in flight after SHUTDOWN_TIMEOUT: cancelling them", slog.Duration("timeout", timeout))
	cancelRequests()
	ctx, cancel = context.WithTimeout(context.Background(), cancelGrace)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		return fmt.Errorf("shutdown: %w %v after their requests were cancelled; the database is left open", errHandlersRunning, cancelGrace)
	}
	return fmt.Errorf("shutdown: requests in flight after SHUTDOWN_TIMEOUT (%v) were cancelled", timeout)
}

// prune deletes ended sessions, stale lockouts, expired email tokens, old
// audit events and the outbox's old mail now and every hour until ctx ends
// (see account.Service.Prune and mail.Mailer.Prune).
func prune(ctx context.Context, a *app.App, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := a.Accounts.Prune(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "prune", slog.Any("error", err))
		} else if n > 0 {
			log.InfoContext(ctx, "pruned ended sessions, stale lockouts, expired email tokens and old audit events", slog.Int("rows", n))
		}
		if n, err := a.Mailer.Prune(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "prune the mail outbox", slog.Any("error", err))
		} else if n > 0 {
			log.InfoContext(ctx, "pruned the outbox's mail sent or dropped a week ago", slog.Int("rows", n))
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
	if cfg.App.Production() {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h)
}
