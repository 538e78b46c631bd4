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
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"bitgate/ent"
	"bitgate/ent/totp"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/auth"
	"bitgate/internal/content"
	"bitgate/internal/database"
	"bitgate/internal/httpapi"
	"bitgate/internal/keys"
	"bitgate/internal/mail"
	"bitgate/internal/metrics"
	"bitgate/internal/passkey"
	"bitgate/internal/persisted"
	"bitgate/internal/ratelimit"
	"bitgate/internal/settings"
)

// Config is what New builds: the configuration tree. Its sections are the
// packages' own configurations where a package takes one (database,
// account, mail, graph, httpapi), and the app's where the settings go to a
// constructor as arguments (Tokens, Hashing, RateLimit, Documents). Each
// tagged field is a setting, with its flag, environment variable, default
// and help (see internal/settings); Defaults returns the tree with every
// default. The untagged fields are filled in by the caller (Logger,
// Metrics, Now, MailDir, the signing keys' material) or by New (the
// handlers and services the sections name).
type Config struct {
	// Env is development or production; production turns off the
	// playground, introspection and validation's suggestions.
	Env string `flag:"env" env:"APP_ENV" default:"development" help:"development or production"`
	// DatabaseURL is postgres://… or an SQLite file (file:…).
	DatabaseURL string `flag:"database-url" env:"DATABASE_URL" help:"database: postgres://… for PostgreSQL, else an SQLite file under the data dir"`
	Database    database.Options
	Tokens      Tokens
	Signing     Signing
	Accounts    account.Options
	Mail        mail.Config
	Hashing     Hashing
	RateLimit   RateLimit
	GraphQL     graph.Limits
	Documents   Documents
	HTTP        httpapi.Config
	Passkeys    passkey.Config

	// TOTPKey is the key-encryption key of the users' TOTP secrets (32
	// bytes: TOTP_ENCRYPTION_KEY, read with the other secrets); nil turns
	// TOTP off, which New refuses while a user has TOTP on.
	TOTPKey []byte

	// Logger receives the server log, each line of a request with its
	// request_id; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, if set, receives the server's metrics (see metrics.New).
	Metrics *metrics.Metrics
	// Now is the clock of tokens, sessions, lockouts, rate limits and
	// mail; nil means time.Now.
	Now func() time.Time
	// MailDir is where mail goes as files without SMTP_URL (in
	// development): the data directory's mail/.
	MailDir string
}

// Defaults returns the configuration with every setting at its default.
func Defaults() Config { return settings.Default[Config]() }

// Production reports whether Env is production.
func (c *Config) Production() bool { return c.Env == "production" }

// Validate returns an error if Env is neither development nor production,
// or if EMAIL_VERIFICATION is required while mail is disabled (nobody
// could verify an email).
func (c *Config) Validate() error {
	switch {
	case c.Env != "development" && c.Env != "production":
		return fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	case c.Accounts.EmailVerification == "required" && c.Mail.Disabled:
		return errors.New("EMAIL_VERIFICATION=required needs mail to send the links: unset MAIL_DISABLED, or set EMAIL_VERIFICATION=optional")
	}
	return nil
}

// Tokens are the claims and the lifetime of access tokens (see
// auth.NewTokens).
type Tokens struct {
	Issuer    string        `flag:"jwt-issuer" env:"JWT_ISSUER" default:"bitgate" help:"iss claim of access tokens"`
	Audience  string        `flag:"jwt-audience" env:"JWT_AUDIENCE" default:"bitgate" help:"aud claim of access tokens"`
	AccessTTL time.Duration `flag:"access-ttl" env:"ACCESS_TOKEN_TTL" default:"15m" help:"access token lifetime"`
}

// Validate returns an error if AccessTTL is not positive.
func (t *Tokens) Validate() error {
	if t.AccessTTL <= 0 {
		return errors.New("ACCESS_TOKEN_TTL must be positive")
	}
	return nil
}

// Signing says how access tokens are signed.
type Signing struct {
	// Alg is HS256 or EdDSA.
	Alg string `flag:"jwt-alg" env:"JWT_ALG" default:"HS256" help:"signing algorithm of access tokens: HS256, or EdDSA with keys in the database"`
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

// Validate returns an error if Alg is neither HS256 nor EdDSA.
func (s *Signing) Validate() error {
	if s.Alg != "HS256" && s.Alg != "EdDSA" {
		return fmt.Errorf("JWT_ALG must be HS256 or EdDSA, not %q", s.Alg)
	}
	return nil
}

// Hashing sizes the password-hashing pool (see auth.NewHasher).
type Hashing struct {
	// Workers is how many hashes run at once; 0 means half the CPUs, at
	// least one.
	Workers int `flag:"hash-workers" env:"HASH_WORKERS" help:"password hashes at once (0: half the CPUs, at least 1)"`
	// Queue is how many sign-ins may wait for a worker; negative means
	// none.
	Queue int `flag:"hash-queue" env:"HASH_QUEUE" default:"128" help:"sign-ins that may wait for a hashing slot"`
}

// RateLimit limits signin, signup, refresh and the operations of mailed
// links (each pair of request and use one bucket) per client address, in
// memory on SQLite (see ratelimit.New), in the database for every instance
// on PostgreSQL (ratelimit.NewShared).
type RateLimit struct {
	// Rate is the calls a client address regains each second, for each
	// operation; 0 means no limit.
	Rate float64 `flag:"auth-rate" env:"AUTH_RATE" default:"5" help:"signin, signup and refresh calls, and those of each pair of mailed-link operations and of the second-factor operations, a client address regains each second, each (0: no limit)"`
	// Burst is the calls a client address may make at once.
	Burst int `flag:"auth-burst" env:"AUTH_BURST" default:"100" help:"signin, signup and refresh calls, and those of each pair of mailed-link operations, a client address may make at once, each"`
}

// Validate returns an error if Rate is negative.
func (r *RateLimit) Validate() error {
	if r.Rate < 0 {
		return errors.New("AUTH_RATE must not be negative")
	}
	return nil
}

// Documents are the trusted documents (see persisted.Load).
type Documents struct {
	// Files are the manifests; with Only, nothing else runs.
	Files []string `flag:"persisted-documents" env:"PERSISTED_DOCUMENTS" help:"manifest files of trusted documents (graphql-codegen's persisted-documents.json, Apollo's persisted-query-manifest.json)"`
	Only  bool     `flag:"persisted-documents-only" env:"PERSISTED_DOCUMENTS_ONLY" help:"run only the trusted documents, refuse any other operation"`
}

// Validate returns an error if Only is set without Files.
func (d *Documents) Validate() error {
	if d.Only && len(d.Files) == 0 {
		return errors.New("PERSISTED_DOCUMENTS_ONLY needs PERSISTED_DOCUMENTS")
	}
	return nil
}

// App is the built server.
type App struct {
	// Client is the database.
	Client *ent.Client
	// Accounts is the account service, for commands and background work.
	Accounts *account.Service
	// Mailer sends the account's mail; the server runs its sender (Run)
	// and prunes its outbox.
	Mailer *mail.Mailer
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
// a setting is invalid (see settings.Validate), the persisted documents
// cannot be loaded, the database cannot be opened or migrated, or the
// signing keys cannot be made or read.
func New(ctx context.Context, cfg Config) (*App, error) {
	if err := settings.Validate(&cfg); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = httpapi.LogRequestIDs(log)
	docs, err := persisted.Load(cfg.Documents.Files...)
	if err != nil {
		return nil, err
	}
	outages := database.NewOutageLog(log, cfg.Now)
	dbOpts := cfg.Database
	dbOpts.Outages = outages
	db, err := database.Open(ctx, cfg.DatabaseURL, dbOpts)
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
	workers := cfg.Hashing.Workers
	if workers == 0 {
		workers = max(1, runtime.NumCPU()/2)
	}
	hasher := auth.NewHasher(workers, cfg.Hashing.Queue, hashOptions...)
	// One SQLite file has one instance, whose buckets may live in memory;
	// the instances on one PostgreSQL database share theirs in it.
	rl := cfg.RateLimit
	var limiter account.Limiter = ratelimit.New(rl.Rate, rl.Burst)
	if db.Dialect == dialect.Postgres {
		limiter = ratelimit.NewShared(db.SQL, rl.Rate, rl.Burst)
	}
	mailer, err := newMailer(db, cfg, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	opts := cfg.Accounts
	opts.Limiter, opts.Logger, opts.Events, opts.Now, opts.Mailer = limiter, log, events, cfg.Now, mailer
	if opts.TOTPSecrets, opts.Passkeys, err = secondFactors(ctx, client, cfg, log); err != nil {
		db.Close()
		return nil, err
	}
	tk := cfg.Tokens
	accounts := account.NewService(client, auth.NewTokens(keySet, tk.Issuer, tk.Audience, tk.AccessTTL, cfg.Now), hasher, opts)
	gql := graph.NewServer(graph.ServerConfig{
		Client: client, Accounts: accounts, Content: content.NewService(client), Logger: log, Outages: outages,
		Introspection: !cfg.Production(), Limits: cfg.GraphQL,
		Documents: docs, DocumentsOnly: cfg.Documents.Only,
		Queries: persisted.NewQueries(client, persisted.QueriesOptions{Now: cfg.Now}),
	})
	a := &App{Client: client, Accounts: accounts, Mailer: mailer, Keys: store, Metrics: cfg.Metrics, db: db, hasher: hasher, log: log}
	hc := cfg.HTTP
	hc.GraphQL, hc.Accounts, hc.Ready, hc.Logger, hc.Production, hc.JWKS = gql, accounts, a.ready, log, cfg.Production(), keys.Handler(store)
	h := httpapi.New(hc)
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

// secondFactors returns the sealer of TOTP secrets (nil without
// cfg.TOTPKey, which is refused while a user has TOTP on: their codes
// could not be checked) and the relying party of passkeys, on
// WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS or else PUBLIC_URL (nil, with a
// warning, when production names none).
func secondFactors(ctx context.Context, client *ent.Client, cfg Config, log *slog.Logger) (*keys.Sealer, *passkey.RelyingParty, error) {
	var sealer *keys.Sealer
	if cfg.TOTPKey != nil {
		var err error
		if sealer, err = keys.NewSealer(cfg.TOTPKey, "TOTP secret", "TOTP_ENCRYPTION_KEY"); err != nil {
			return nil, nil, fmt.Errorf("TOTP_ENCRYPTION_KEY: %w", err)
		}
	} else {
		on, err := client.Totp.Query().Where(totp.ConfirmedAtNotNil()).Exist(ctx)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("look up TOTP secrets: %w", err)
		case on:
			return nil, nil, errors.New("TOTP_ENCRYPTION_KEY is not set, and users have TOTP on: their codes cannot be checked without the key that sealed their secrets")
		}
		log.Warn("TOTP is off: TOTP_ENCRYPTION_KEY is not set (32 bytes, base64: openssl rand -base64 32)")
	}
	pc := cfg.Passkeys
	pc.PublicURL = cfg.Mail.PublicURL
	rp, err := passkey.New(pc, cfg.Production())
	if errors.Is(err, passkey.ErrOff) {
		log.Warn(err.Error())
		return sealer, nil, nil
	}
	return sealer, rp, err
}

// newMailer returns the Mailer of cfg.Mail on db (see mail.New).
func newMailer(db *database.DB, cfg Config, log *slog.Logger) (*mail.Mailer, error) {
	opts := mail.Options{Production: cfg.Production(), Dir: cfg.MailDir, Logger: log, Now: cfg.Now}
	if cfg.Metrics != nil {
		opts.Metrics = cfg.Metrics
	}
	m, err := mail.New(db, cfg.Mail, opts)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return m, nil
}

// signingKeys returns the key set of cfg.Signing, and for EdDSA the store
// behind it (nil for HS256, which publishes no keys).
func signingKeys(ctx context.Context, client *ent.Client, cfg Config, log *slog.Logger) (auth.KeySet, *keys.Store, error) {
	sg := cfg.Signing
	switch sg.Alg {
	case "HS256":
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
			opts.PreviousUntil = started.Add(cfg.Tokens.AccessTTL + auth.Leeway)
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
		opts.AccessTTL, opts.Now, opts.Logger = cfg.Tokens.AccessTTL, cfg.Now, log
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

// Close waits for the account work that requests left to run after their
// answer (see account.Service.Wait), stops the hashing pool and closes the
// database. The server must not be serving: no handler may run; nor may
// the mail sender (Mailer.Run).
func (a *App) Close() error {
	a.Accounts.Wait()
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
