package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"bitgate/graph"
	"bitgate/internal/database"
)

// config is the server's configuration: each setting is a flag whose
// default comes from an environment variable (see the README's table).
type config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	Env             string
	LogLevel        string
	JWTSecret       string
	JWTSecretFile   string
	JWTIssuer       string
	JWTAudience     string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	ReuseGrace      time.Duration
	MaxBodyBytes    int64
	MaxInFlight     int
	HashWorkers     int
	HashQueue       int
	ShutdownTimeout time.Duration
	AuthRate        float64
	AuthBurst       int
	Limits          graph.Limits
	CORSOrigins     []string
	TrustedProxies  []netip.Prefix
	TLSCertFile     string
	TLSKeyFile      string
	Pool            database.Pool
}

// production reports whether APP_ENV=production.
func (c *config) production() bool { return c.Env == "production" }

// databaseURL returns DATABASE_URL, or the SQLite file under the data dir.
func (c *config) databaseURL() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "file:" + filepath.Join(c.DataDir, "bitgate.db")
}

// parseConfig reads flags from args over defaults from getenv; extra, if
// not nil, adds a subcommand's own flags. Returns an error for an unknown
// flag or a malformed value.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer, extra func(*flag.FlagSet)) (*config, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var errs []error
	dur := func(p *time.Duration, flagName, key, def, usage string) {
		d, err := time.ParseDuration(env(key, def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		fs.DurationVar(p, flagName, d, usage+" ("+key+")")
	}
	num := func(p *int, flagName, key string, def int, usage string) {
		n := def
		if v := getenv(key); v != "" {
			if _, err := fmt.Sscan(v, &n); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
		fs.IntVar(p, flagName, n, usage+" ("+key+")")
	}
	str := func(p *string, flagName, key, def, usage string) {
		fs.StringVar(p, flagName, env(key, def), usage+" ("+key+")")
	}
	str(&c.Addr, "addr", "ADDR", ":8080", "listen address")
	str(&c.DataDir, "data-dir", "DATA_DIR", "data", "directory of the SQLite file and the generated signing secret")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "database: postgres://… for PostgreSQL, else an SQLite file under the data dir")
	str(&c.Env, "env", "APP_ENV", "development", "development or production")
	str(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.JWTSecret, "jwt-secret", "JWT_SECRET", "", "HMAC key for access tokens (its bytes)")
	str(&c.JWTSecretFile, "jwt-secret-file", "JWT_SECRET_FILE", "", "file holding the HMAC key")
	str(&c.JWTIssuer, "jwt-issuer", "JWT_ISSUER", "bitgate", "iss claim of access tokens")
	str(&c.JWTAudience, "jwt-audience", "JWT_AUDIENCE", "bitgate", "aud claim of access tokens")
	dur(&c.AccessTTL, "access-ttl", "ACCESS_TOKEN_TTL", "15m", "access token lifetime")
	dur(&c.RefreshTTL, "refresh-ttl", "REFRESH_TOKEN_TTL", "720h", "refresh token (session) lifetime")
	dur(&c.ReuseGrace, "refresh-reuse-grace", "REFRESH_REUSE_GRACE", "10s", "how long a spent refresh token is refused without revoking its session")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may finish on SIGTERM")
	var maxBody int
	num(&maxBody, "max-body-bytes", "MAX_BODY_BYTES", graph.DefaultMaxBodyBytes, "request body limit")
	num(&c.MaxInFlight, "max-in-flight", "MAX_IN_FLIGHT", graph.DefaultMaxInFlight, "requests running GraphQL at once; others wait for a slot")
	num(&c.HashWorkers, "hash-workers", "HASH_WORKERS", max(1, runtime.NumCPU()/2), "password hashes at once")
	num(&c.HashQueue, "hash-queue", "HASH_QUEUE", 128, "sign-ins that may wait for a hashing slot")
	num(&c.Limits.MaxDepth, "max-depth", "MAX_QUERY_DEPTH", graph.DefaultMaxDepth, "deepest selection nesting")
	num(&c.Limits.MaxComplexity, "max-complexity", "MAX_COMPLEXITY", graph.DefaultMaxComplexity, "query complexity limit")
	num(&c.Limits.MaxFields, "max-fields", "MAX_QUERY_FIELDS", graph.DefaultMaxFields, "fields a query document may hold")
	num(&c.Limits.MaxAuthFields, "max-auth-fields", "MAX_AUTH_FIELDS", graph.DefaultMaxAuthFields, "signin, signup and refresh fields allowed each per request")
	num(&c.AuthBurst, "auth-burst", "AUTH_BURST", 100, "signin, signup and refresh calls a client address may make at once, each")
	str(&c.TLSCertFile, "tls-cert-file", "TLS_CERT_FILE", "", "serve HTTPS with this certificate")
	str(&c.TLSKeyFile, "tls-key-file", "TLS_KEY_FILE", "", "and this key")
	num(&c.Pool.MaxOpenConns, "db-max-open-conns", "DB_MAX_OPEN_CONNS", database.DefaultMaxOpenConns, "database connections per instance")
	num(&c.Pool.MaxIdleConns, "db-max-idle-conns", "DB_MAX_IDLE_CONNS", 0, "idle database connections kept per instance (0: all of them)")
	dur(&c.Pool.ConnMaxLifetime, "db-conn-max-lifetime", "DB_CONN_MAX_LIFETIME", "30m", "how long a database connection is reused")
	var authRate, origins, proxies string
	str(&authRate, "auth-rate", "AUTH_RATE", "5", "signin, signup and refresh calls a client address regains each second, each (0: no limit)")
	str(&origins, "cors-origins", "CORS_ORIGINS", "", "comma-separated origins allowed to call the API from a browser")
	str(&proxies, "trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	c.MaxBodyBytes = int64(maxBody)
	if _, err := fmt.Sscan(authRate, &c.AuthRate); err != nil || c.AuthRate < 0 {
		return nil, fmt.Errorf("AUTH_RATE must be a non-negative number, not %q", authRate)
	}
	c.CORSOrigins = splitList(origins)
	for _, p := range splitList(proxies) {
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return nil, fmt.Errorf("TLS_CERT_FILE and TLS_KEY_FILE go together")
	}
	if c.Env != "development" && c.Env != "production" {
		return nil, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ACCESS_TOKEN_TTL", c.AccessTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTTL}} {
		if d.v <= 0 {
			return nil, fmt.Errorf("%s must be positive", d.name)
		}
	}
	if c.ReuseGrace < 0 {
		return nil, fmt.Errorf("REFRESH_REUSE_GRACE must not be negative")
	}
	return &c, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parsePrefix parses a CIDR, or a single address as a one-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
