// Package app builds the server: it opens the database and wires the
// services, the GraphQL server and the HTTP handler. The binary and the
// end-to-end tests both build through New, so that the tests run the
// server the binary runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/auth"
	"bitgate/internal/content"
	"bitgate/internal/database"
	"bitgate/internal/httpapi"
	"bitgate/internal/keys"
	"bitgate/internal/metrics"
	"bitgate/internal/persisted"
	"bitgate/internal/ratelimit"
)

// Config is what New builds. Zero values keep the defaults of the packages
// they go to, except where noted.
type Config struct {
	// DatabaseURL is postgres://… or an SQLite file (file:…).
	DatabaseURL string
	Pool        database.Pool
	// SQLiteSynchronous is SQLite's synchronous setting, NORMAL (when
	// empty) or FULL (see database.Options).
	SQLiteSynchronous string
	// DBTimeout bounds each database statement and transaction (see
	// database.Options.CallTimeout).
	DBTimeout time.Duration
	// EntOptions are added to the ent client's (a query counter, say).
	EntOptions []ent.Option

	// Signing says how access tokens are signed; Issuer and Audience are
	// their iss and aud.
	Signing          Signing
	Issuer, Audience string
	// AccessTTL, RefreshTTL and ReuseGrace are the token lifetimes and the
	// refresh token reuse grace; all three must be set.
	AccessTTL, RefreshTTL, ReuseGrace time.Duration
	// MaxSessionsPerUser caps a user's live sessions (see
	// account.Options.MaxSessions).
	MaxSessionsPerUser int
	// AuditRetention is how long audit events are kept; 0 keeps them.
	AuditRetention time.Duration

	// HashWorkers and HashQueue size the password-hashing pool (see
	// auth.NewHasher).
	HashWorkers, HashQueue int
	// AuthRate and AuthBurst limit signin, signup and refresh per client
	// address, in memory on SQLite (see ratelimit.New), in the database for
	// every instance on PostgreSQL (ratelimit.NewShared); AuthRate 0 means
	// no limit.
	AuthRate  float64
	AuthBurst int
	// IPv6Prefix is how many leading bits of an IPv6 address the limits
	// count as one client (see account.Options).
	IPv6Prefix int

	// Logger receives the server log, each line of a request with its
	// request_id; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, if set, receives the server's metrics (see metrics.New).
	Metrics *metrics.Metrics
	// Now is the clock of tokens, sessions, lockouts and rate limits; nil
	// means time.Now.
	Now func() time.Time

	// Production turns off the playground and introspection.
	Production bool
	// Limits bound what one GraphQL request may ask for.
	Limits graph.Limits
	// PersistedDocuments are the manifest files of trusted documents (see
	// persisted.Load); with PersistedDocumentsOnly, nothing else runs.
	PersistedDocuments     []string
	PersistedDocumentsOnly bool
	// MaxBodyBytes, RequestTimeout, MaxInFlight, CORSOrigins, TrustedProxies
	// and TLS go to the HTTP layer (see httpapi.Config).
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	MaxInFlight    int
	CORSOrigins    []string
	TrustedProxies []netip.Prefix
	TLS            bool
}

// Signing says how access tokens are signed.
type Signing struct {
	// Alg is "HS256" (the default) or "EdDSA".
	Alg string
	// Secret is the HMAC key of HS256. PreviousSecret, if set, is the one
	// it replaced: it verifies for one access-token lifetime (plus
	// auth.Leeway) from the first start of any instance with this pair
	// (see keys.HMACRotationStart), which New logs.
	Secret, PreviousSecret []byte
	// KEK encrypts the EdDSA private keys in the database (see keys.Open);
	// Keys tunes the key set (its AccessTTL, Now and Logger are filled in).
	KEK  []byte
	Keys keys.Options
}

// App is the built server.
type App struct {
	// Client is the database.
	Client *ent.Client
	// Accounts is the account service, for commands and background work.
	Accounts *account.Service
	// Keys are the EdDSA signing keys; nil with HS256.
	Keys *keys.Store
	// Handler serves the whole HTTP API.
	Handler http.Handler
	// Metrics are Config.Metrics, for the server to serve.
	Metrics *metrics.Metrics

	db       *database.DB
	hasher   *auth.Hasher
	log      *slog.Logger
	draining atomic.Bool

	mu       sync.Mutex
	notReady error // the reason ready last gave, nil when ready
}

// New opens the database at cfg.DatabaseURL (applying pending migrations)
// and wires the server. The caller must Close the App. Returns an error if
// the persisted documents cannot be loaded, the database cannot be opened
// or migrated, or the signing keys cannot be made or read.
func New(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = httpapi.LogRequestIDs(log)
	docs, err := persisted.Load(cfg.PersistedDocuments...)
	if err != nil {
		return nil, err
	}
	outages := database.NewOutageLog(log, cfg.Now)
	db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{
		Pool: cfg.Pool, Synchronous: cfg.SQLiteSynchronous, EntOptions: cfg.EntOptions,
		CallTimeout: cfg.DBTimeout, Outages: outages,
	})
	if err != nil {
		return nil, err
	}
	client := db.Client
	keySet, store, err := signingKeys(ctx, client, cfg, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	var (
		hashOptions []auth.HasherOption
		events      func(string)
	)
	if m := cfg.Metrics; m != nil {
		hashOptions = append(hashOptions, auth.ObserveWaits(m.HashWaited))
		events = m.SecurityEvent
	}
	hasher := auth.NewHasher(cfg.HashWorkers, cfg.HashQueue, hashOptions...)
	// One SQLite file has one instance, whose buckets may live in memory;
	// the instances on one PostgreSQL database share theirs in it.
	var limiter account.Limiter = ratelimit.New(cfg.AuthRate, cfg.AuthBurst)
	if db.Dialect == dialect.Postgres {
		limiter = ratelimit.NewShared(db.SQL, cfg.AuthRate, cfg.AuthBurst)
	}
	accounts := account.NewService(client,
		auth.NewTokens(keySet, cfg.Issuer, cfg.Audience, cfg.AccessTTL, cfg.Now),
		hasher,
		account.Options{
			RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.ReuseGrace, AuditRetention: cfg.AuditRetention,
			Limiter: limiter, IPv6Prefix: cfg.IPv6Prefix, MaxSessions: cfg.MaxSessionsPerUser,
			Logger: log, Events: events, Now: cfg.Now,
		})
	gql := graph.NewServer(graph.ServerConfig{
		Client: client, Accounts: accounts, Content: content.NewService(client), Logger: log, Outages: outages,
		Introspection: !cfg.Production, Limits: cfg.Limits,
		Documents: docs, DocumentsOnly: cfg.PersistedDocumentsOnly,
	})
	a := &App{Client: client, Accounts: accounts, Keys: store, Metrics: cfg.Metrics, db: db, hasher: hasher, log: log}
	h := httpapi.New(httpapi.Config{
		GraphQL: gql, Accounts: accounts, Ready: a.ready, Logger: log,
		Production: cfg.Production, MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.RequestTimeout, MaxInFlight: cfg.MaxInFlight,
		CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLS,
		JWKS: keys.Handler(store),
	})
	if m := cfg.Metrics; m != nil {
		gql.Use(m.GraphQLExtension())
		h = m.Instrument(h)
		m.WatchDB(db.SQL)
		m.WatchHashQueue(hasher.Queue)
	}
	a.Handler = a.closeWhenDraining(h)
	_ = a.ready(ctx) // says at start why the server is not ready, if it is not: a full disk, a read-only database
	return a, nil
}

// signingKeys returns the key set of cfg.Signing, and for EdDSA the store
// behind it (nil for HS256, which publishes no keys).
func signingKeys(ctx context.Context, client *ent.Client, cfg Config, log *slog.Logger) (auth.KeySet, *keys.Store, error) {
	sg := cfg.Signing
	switch sg.Alg {
	case "", "HS256":
		opts := auth.HMACOptions{Previous: sg.PreviousSecret, Now: cfg.Now}
		if sg.PreviousSecret != nil {
			now := time.Now
			if cfg.Now != nil {
				now = cfg.Now
			}
			started, err := keys.HMACRotationStart(ctx, client, sg.Secret, sg.PreviousSecret, now())
			if err != nil {
				return nil, nil, fmt.Errorf("signing keys: %w", err)
			}
			opts.PreviousUntil = started.Add(cfg.AccessTTL + auth.Leeway)
			attrs := []any{slog.Time("until", opts.PreviousUntil), slog.String("previous_kid", auth.HMACKeyID(sg.PreviousSecret))}
			if now().Before(opts.PreviousUntil) {
				log.Warn("the previous HS256 secret verifies access tokens for one access-token lifetime from the first start with the new secret; remove JWT_SECRET_PREVIOUS after that", attrs...)
			} else {
				log.Warn("the previous HS256 secret no longer verifies: its access-token lifetime after the first start with the new secret is over; remove JWT_SECRET_PREVIOUS", attrs...)
			}
		}
		set, err := auth.NewHMACKeys(sg.Secret, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("signing keys: %w", err)
		}
		return set, nil, nil
	case "EdDSA":
		opts := sg.Keys
		opts.AccessTTL, opts.Now, opts.Logger = cfg.AccessTTL, cfg.Now, log
		store, err := keys.Open(ctx, client, sg.KEK, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("signing keys: %w", err)
		}
		return store, store, nil
	}
	return nil, nil, fmt.Errorf("unknown signing algorithm %q", sg.Alg)
}

// Drain prepares the server to stop while it still serves: /readyz
// answers 503 (shutting down), so that load balancers stop sending, and
// every response asks its client to close the connection, so that the
// next request goes out on a new one (to another instance, or refused
// once this one stops accepting) instead of racing the server's close of
// an idle connection. It cannot be undone.
func (a *App) Drain() { a.draining.Store(true) }

// closeWhenDraining adds Connection: close to every response once Drain
// was called.
func (a *App) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// Close stops the hashing pool and closes the database. The server must
// not be serving: no handler may run.
func (a *App) Close() error {
	a.hasher.Close()
	if err := a.db.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// The answers of /readyz when not ready (see also database.DB.Ready).
var (
	errDraining            = errors.New("shutting down")
	errDatabaseUnavailable = errors.New("database unavailable")
)

// ready reports whether the server can serve (see database.DB.Ready): nil,
// or an error whose message says why without detail. It logs when the
// answer changes, not at every call: "not ready" at WARN with the detail
// when the server stops being ready or the reason changes, and "ready" at
// INFO when it is again.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errDraining
	}
	err := a.db.Ready(ctx)
	reason := error(nil)
	if err != nil {
		reason = errDatabaseUnavailable
		for _, r := range []error{database.ErrWritesFailing, database.ErrMigrationsMissing} {
			if errors.Is(err, r) {
				reason = r
			}
		}
	}
	a.mu.Lock()
	changed := reason != a.notReady
	a.notReady = reason
	a.mu.Unlock()
	switch {
	case changed && err != nil:
		a.log.WarnContext(ctx, "not ready", slog.Any("error", err))
	case changed:
		a.log.InfoContext(ctx, "ready")
	}
	return reason
}
