// Package app builds the server: it opens the database and wires the
// services, the GraphQL server and the HTTP handler. The binary and the
// end-to-end tests both build through New, so that the tests run the
// server the binary runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"bitgate/auth"
	"bitgate/ent"
	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/content"
	"bitgate/internal/database"
	"bitgate/internal/httpapi"
	"bitgate/internal/keys"
	"bitgate/internal/ratelimit"
)

// Config is what New builds. Zero values keep the defaults of the packages
// they go to, except where noted.
type Config struct {
	// DatabaseURL is postgres://… or an SQLite file (file:…).
	DatabaseURL string
	Pool        database.Pool
	// EntOptions are added to the ent client's (a query counter, say).
	EntOptions []ent.Option

	// Signing says how access tokens are signed; Issuer and Audience are
	// their iss and aud.
	Signing          Signing
	Issuer, Audience string
	// AccessTTL, RefreshTTL and ReuseGrace are the token lifetimes and the
	// refresh token reuse grace; all three must be set.
	AccessTTL, RefreshTTL, ReuseGrace time.Duration

	// HashWorkers and HashQueue size the password-hashing pool (see
	// auth.NewHasher).
	HashWorkers, HashQueue int
	// AuthRate and AuthBurst limit signin, signup and refresh per client
	// address (see ratelimit.New); AuthRate 0 means no limit.
	AuthRate  float64
	AuthBurst int
	// IPv6Prefix is how many leading bits of an IPv6 address the limits
	// count as one client (see account.Options).
	IPv6Prefix int

	// Logger receives the server log; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of tokens, sessions, lockouts and rate limits; nil
	// means time.Now.
	Now func() time.Time

	// Production turns off the playground and introspection.
	Production bool
	// Limits bound what one GraphQL request may ask for.
	Limits graph.Limits
	// MaxBodyBytes, MaxInFlight, CORSOrigins, TrustedProxies and TLS go to
	// the HTTP layer (see httpapi.Config).
	MaxBodyBytes   int64
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
	// auth.Leeway) from New, which logs until when.
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

	hasher *auth.Hasher
}

// New opens the database at cfg.DatabaseURL (applying pending migrations)
// and wires the server. The caller must Close the App. Returns an error if
// the database cannot be opened or migrated, or the signing keys cannot be
// made or read.
func New(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	client, err := database.Open(ctx, cfg.DatabaseURL, cfg.Pool, cfg.EntOptions...)
	if err != nil {
		return nil, err
	}
	keySet, store, err := signingKeys(ctx, client, cfg, log)
	if err != nil {
		client.Close()
		return nil, err
	}
	hasher := auth.NewHasher(cfg.HashWorkers, cfg.HashQueue)
	accounts := account.NewService(client,
		auth.NewTokens(keySet, cfg.Issuer, cfg.Audience, cfg.AccessTTL, cfg.Now),
		hasher,
		account.Options{
			RefreshTTL: cfg.RefreshTTL, ReuseGrace: cfg.ReuseGrace,
			Limiter: ratelimit.New(cfg.AuthRate, cfg.AuthBurst), IPv6Prefix: cfg.IPv6Prefix,
			Logger: log, Now: cfg.Now,
		})
	gql := graph.NewServer(graph.ServerConfig{
		Client: client, Accounts: accounts, Content: content.NewService(client), Logger: log,
		Introspection: !cfg.Production, Limits: cfg.Limits,
	})
	h := httpapi.New(httpapi.Config{
		GraphQL: gql, Accounts: accounts, Ready: ready(client), Logger: log,
		Production: cfg.Production, MaxBodyBytes: cfg.MaxBodyBytes, MaxInFlight: cfg.MaxInFlight,
		CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLS,
		JWKS: keys.Handler(store),
	})
	return &App{Client: client, Accounts: accounts, Keys: store, Handler: h, hasher: hasher}, nil
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
			opts.PreviousUntil = now().Add(cfg.AccessTTL + auth.Leeway)
			log.Warn("the previous HS256 secret verifies access tokens for one access-token lifetime; remove JWT_SECRET_PREVIOUS after that",
				slog.Time("until", opts.PreviousUntil), slog.String("previous_kid", auth.HMACKeyID(sg.PreviousSecret)))
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

// Close stops the hashing pool and closes the database.
func (a *App) Close() error {
	a.hasher.Close()
	if err := a.Client.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// ready reports whether the database answers a read.
func ready(client *ent.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := client.User.Query().Exist(ctx)
		return err
	}
}
