package main

import (
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"bitgate/graph"
	"bitgate/internal/account"
	"bitgate/internal/clientip"
	"bitgate/internal/database"
	"bitgate/internal/httpapi"
)

// config is the server's configuration: each setting is a flag or an
// environment variable (see the table in docs/configuration.md); JWTSecret
// comes from the environment only.
type config struct {
	Addr            string
	MetricsAddr     string
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
	MaxSessions     int
	AuditRetention  time.Duration
	MaxBodyBytes    int64
	MaxInFlight     int
	HashWorkers     int
	HashQueue       int
	ShutdownDrain   time.Duration
	ShutdownTimeout time.Duration
	RequestTimeout  time.Duration
	DBTimeout       time.Duration
	AuthRate        float64
	AuthBurst       int
	IPv6Prefix      int
	Limits          graph.Limits
	CORSOrigins     []string
	TrustedProxies  []netip.Prefix
	TLSCertFile     string
	TLSKeyFile      string
	Pool            database.Pool
	// SQLiteSynchronous is NORMAL or FULL (see database.Options).
	SQLiteSynchronous string

	// JWTAlg is HS256 or EdDSA.
	JWTAlg string
	// JWTSecretPrevious (environment only), or the file
	// JWTSecretPreviousFile names, is the HS256 secret JWTSecret replaced.
	JWTSecretPrevious, JWTSecretPreviousFile string
	// KEK (environment only), or the file KEKFile names, encrypts the EdDSA
	// private keys in the database.
	KEK, KEKFile string

	// PersistedDocuments are manifest files of trusted documents; with
	// PersistedDocumentsOnly nothing else runs.
	PersistedDocuments     []string
	PersistedDocumentsOnly bool
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

// setting ties a flag to the environment variable that sets it when the
// flag is not given.
type setting struct{ flag, env string }

// parseConfig parses the settings from args, then from getenv for every
// flag not given, over the built-in defaults; extra, if not nil, adds a
// subcommand's own flags. Help and error output show only the built-in
// defaults, never a value from the environment, and secrets (JWT_SECRET,
// JWT_SECRET_PREVIOUS, JWT_KEY_ENCRYPTION_KEY) are read from the
// environment only, so that neither `-h` nor `ps` shows
// them. Returns a helpRequest for -h, a usageError for an unknown flag, a
// malformed flag value or a stray argument, or an error for a malformed
// environment value or an invalid setting.
func parseConfig(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (*config, error) {
	var c config
	fs := newFlagSet(name)
	var settings []setting
	str := func(p *string, flagName, key, def, usage string) {
		fs.StringVar(p, flagName, def, usage+" ("+key+")")
		settings = append(settings, setting{flagName, key})
	}
	num := func(p *int, flagName, key string, def int, usage string) {
		fs.IntVar(p, flagName, def, usage+" ("+key+")")
		settings = append(settings, setting{flagName, key})
	}
	dur := func(p *time.Duration, flagName, key string, def time.Duration, usage string) {
		fs.DurationVar(p, flagName, def, usage+" ("+key+")")
		settings = append(settings, setting{flagName, key})
	}
	str(&c.Addr, "addr", "ADDR", ":8080", "listen address")
	str(&c.MetricsAddr, "metrics-addr", "METRICS_ADDR", "", "serve Prometheus metrics at /metrics on this address only (none when empty)")
	str(&c.DataDir, "data-dir", "DATA_DIR", "data", "directory of the SQLite file and the generated signing secret")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "database: postgres://… for PostgreSQL, else an SQLite file under the data dir")
	str(&c.Env, "env", "APP_ENV", "development", "development or production")
	str(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.JWTSecretFile, "jwt-secret-file", "JWT_SECRET_FILE", "", "file holding the HMAC key of access tokens, when JWT_SECRET (environment only) is not set")
	str(&c.JWTAlg, "jwt-alg", "JWT_ALG", "HS256", "signing algorithm of access tokens: HS256, or EdDSA with keys in the database")
	str(&c.JWTSecretPreviousFile, "jwt-secret-previous-file", "JWT_SECRET_PREVIOUS_FILE", "", "file holding the HMAC key the current one replaced, when JWT_SECRET_PREVIOUS (environment only) is not set")
	str(&c.KEKFile, "jwt-key-encryption-key-file", "JWT_KEY_ENCRYPTION_KEY_FILE", "", "file holding the key that encrypts the EdDSA keys, when JWT_KEY_ENCRYPTION_KEY (environment only) is not set")
	str(&c.JWTIssuer, "jwt-issuer", "JWT_ISSUER", "bitgate", "iss claim of access tokens")
	str(&c.JWTAudience, "jwt-audience", "JWT_AUDIENCE", "bitgate", "aud claim of access tokens")
	dur(&c.AccessTTL, "access-ttl", "ACCESS_TOKEN_TTL", 15*time.Minute, "access token lifetime")
	dur(&c.RefreshTTL, "refresh-ttl", "REFRESH_TOKEN_TTL", 720*time.Hour, "refresh token (session) lifetime")
	dur(&c.ReuseGrace, "refresh-reuse-grace", "REFRESH_REUSE_GRACE", 10*time.Second, "how long a spent refresh token is refused without revoking its session")
	num(&c.MaxSessions, "max-sessions-per-user", "MAX_SESSIONS_PER_USER", account.DefaultMaxSessions, "live sessions a user may have; a new sign-in past it ends the least recently used")
	dur(&c.AuditRetention, "audit-retention", "AUDIT_RETENTION", account.DefaultAuditRetention, "how long audit events are kept (0: forever)")
	dur(&c.ShutdownDrain, "shutdown-drain", "SHUTDOWN_DRAIN", 5*time.Second, "how long the server keeps serving on SIGTERM while /readyz answers 503, before it stops accepting connections")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 15*time.Second, "how long in-flight requests may then finish before they are cancelled")
	dur(&c.RequestTimeout, "request-timeout", "REQUEST_TIMEOUT", httpapi.DefaultRequestTimeout, "how long a GraphQL request may run before it is answered SERVICE_UNAVAILABLE")
	var maxBody int
	num(&maxBody, "max-body-bytes", "MAX_BODY_BYTES", httpapi.DefaultMaxBodyBytes, "request body limit")
	num(&c.MaxInFlight, "max-in-flight", "MAX_IN_FLIGHT", httpapi.DefaultMaxInFlight, "requests running GraphQL at once; others wait for a slot")
	num(&c.HashWorkers, "hash-workers", "HASH_WORKERS", max(1, runtime.NumCPU()/2), "password hashes at once")
	num(&c.HashQueue, "hash-queue", "HASH_QUEUE", 128, "sign-ins that may wait for a hashing slot")
	num(&c.Limits.MaxDepth, "max-depth", "MAX_QUERY_DEPTH", graph.DefaultMaxDepth, "deepest selection nesting")
	num(&c.Limits.MaxComplexity, "max-complexity", "MAX_COMPLEXITY", graph.DefaultMaxComplexity, "query complexity limit")
	num(&c.Limits.MaxFields, "max-fields", "MAX_QUERY_FIELDS", graph.DefaultMaxFields, "fields a query document may hold")
	num(&c.Limits.MaxAuthFields, "max-auth-fields", "MAX_AUTH_FIELDS", graph.DefaultMaxAuthFields, "signin, signup and refresh fields allowed each per request")
	num(&c.AuthBurst, "auth-burst", "AUTH_BURST", 100, "signin, signup and refresh calls a client address may make at once, each")
	num(&c.IPv6Prefix, "rate-limit-ipv6-prefix", "RATE_LIMIT_IPV6_PREFIX", clientip.DefaultIPv6Prefix, "leading bits of an IPv6 address that the per-address limits count as one client")
	str(&c.TLSCertFile, "tls-cert-file", "TLS_CERT_FILE", "", "serve HTTPS with this certificate")
	str(&c.TLSKeyFile, "tls-key-file", "TLS_KEY_FILE", "", "and this key")
	num(&c.Pool.MaxOpenConns, "db-max-open-conns", "DB_MAX_OPEN_CONNS", database.DefaultMaxOpenConns, "database connections per instance")
	num(&c.Pool.MaxIdleConns, "db-max-idle-conns", "DB_MAX_IDLE_CONNS", 0, "idle database connections kept per instance (0: all of them)")
	dur(&c.Pool.ConnMaxLifetime, "db-conn-max-lifetime", "DB_CONN_MAX_LIFETIME", 30*time.Minute, "how long a database connection is reused")
	str(&c.SQLiteSynchronous, "sqlite-synchronous", "SQLITE_SYNCHRONOUS", database.SynchronousNormal, "NORMAL: an SQLite commit survives a crash of the process; FULL: also a power loss or an OS crash, at the cost of a sync per commit")
	dur(&c.DBTimeout, "db-timeout", "DB_TIMEOUT", database.DefaultCallTimeout, "how long one database statement or transaction may take")
	fs.Float64Var(&c.AuthRate, "auth-rate", 5, "signin, signup and refresh calls a client address regains each second, each (0: no limit) (AUTH_RATE)")
	settings = append(settings, setting{"auth-rate", "AUTH_RATE"})
	var origins, proxies, documents string
	str(&origins, "cors-origins", "CORS_ORIGINS", "", "comma-separated origins allowed to call the API from a browser")
	str(&documents, "persisted-documents", "PERSISTED_DOCUMENTS", "", "comma-separated manifest files of trusted documents (graphql-codegen's persisted-documents.json, Apollo's persisted-query-manifest.json)")
	fs.BoolVar(&c.PersistedDocumentsOnly, "persisted-documents-only", false, "run only the trusted documents, refuse any other operation (PERSISTED_DOCUMENTS_ONLY)")
	settings = append(settings, setting{"persisted-documents-only", "PERSISTED_DOCUMENTS_ONLY"})
	str(&proxies, "trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed")
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		if v := getenv(s.env); v != "" && !given[s.flag] {
			if err := fs.Set(s.flag, v); err != nil {
				return nil, fmt.Errorf("%s: invalid value: %w", s.env, err)
			}
		}
	}
	c.JWTSecret = getenv("JWT_SECRET")
	c.JWTSecretPrevious, c.KEK = getenv("JWT_SECRET_PREVIOUS"), getenv("JWT_KEY_ENCRYPTION_KEY")
	if c.JWTAlg != "HS256" && c.JWTAlg != "EdDSA" {
		return nil, fmt.Errorf("JWT_ALG must be HS256 or EdDSA, not %q", c.JWTAlg)
	}
	c.MaxBodyBytes = int64(maxBody)
	if c.MaxSessions < 1 {
		return nil, fmt.Errorf("MAX_SESSIONS_PER_USER must be at least 1, not %d", c.MaxSessions)
	}
	if c.AuthRate < 0 {
		return nil, fmt.Errorf("AUTH_RATE must not be negative")
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		return nil, fmt.Errorf("RATE_LIMIT_IPV6_PREFIX must be 1 to 128, not %d", c.IPv6Prefix)
	}
	c.CORSOrigins = splitList(origins)
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS_ORIGINS: %w", err)
		}
	}
	c.PersistedDocuments = splitList(documents)
	if c.PersistedDocumentsOnly && len(c.PersistedDocuments) == 0 {
		return nil, fmt.Errorf("PERSISTED_DOCUMENTS_ONLY needs PERSISTED_DOCUMENTS")
	}
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
	}{
		{"ACCESS_TOKEN_TTL", c.AccessTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTTL},
		{"REQUEST_TIMEOUT", c.RequestTimeout}, {"DB_TIMEOUT", c.DBTimeout},
	} {
		if d.v <= 0 {
			return nil, fmt.Errorf("%s must be positive", d.name)
		}
	}
	c.SQLiteSynchronous = strings.ToUpper(c.SQLiteSynchronous)
	if c.SQLiteSynchronous != database.SynchronousNormal && c.SQLiteSynchronous != database.SynchronousFull {
		return nil, fmt.Errorf("SQLITE_SYNCHRONOUS must be NORMAL or FULL, not %q", c.SQLiteSynchronous)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"REFRESH_REUSE_GRACE", c.ReuseGrace}, {"AUDIT_RETENTION", c.AuditRetention}, {"SHUTDOWN_DRAIN", c.ShutdownDrain}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s must not be negative", d.name)
		}
	}
	return &c, nil
}

// checkOrigin accepts an exact origin, scheme://host[:port], and nothing
// that the CORS library would widen: "*" or a pattern would let every
// origin (or every subdomain) call the API with a user's token.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	switch {
	case strings.Contains(o, "*"):
		return fmt.Errorf("%q: list exact origins, not patterns", o)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q is not an origin of the form https://host[:port]", o)
	}
	return nil
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
