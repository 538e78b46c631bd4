package main

import (
	"errors"
	"flag"
	"path/filepath"
	"time"

	"bitgate/internal/app"
	"bitgate/internal/settings"
)

// config is the binary's configuration tree: the app's (whose sections
// are the packages' own configurations), the secrets (signing.go), and
// the settings of serving itself. Each tagged field is one setting, with
// its flag, environment variable, default and help (see internal/settings);
// the settings table of the docs is tested against them (settingsDoc).
type config struct {
	App     app.Config
	Secrets secrets

	Addr        string `flag:"addr" env:"ADDR" default:":8080" help:"listen address"`
	MetricsAddr string `flag:"metrics-addr" env:"METRICS_ADDR" help:"serve Prometheus metrics at /metrics on this address only (none when empty)"`
	DataDir     string `flag:"data-dir" env:"DATA_DIR" default:"data" help:"directory of the SQLite file and the generated signing secret"`
	LogLevel    string `flag:"log-level" env:"LOG_LEVEL" default:"info" help:"debug, info, warn or error"`
	TLSCertFile string `flag:"tls-cert-file" env:"TLS_CERT_FILE" help:"serve HTTPS with this certificate"`
	TLSKeyFile  string `flag:"tls-key-file" env:"TLS_KEY_FILE" help:"and this key"`
	// ShutdownDrain and ShutdownTimeout time the stop (see serveUntil).
	ShutdownDrain   time.Duration `flag:"shutdown-drain" env:"SHUTDOWN_DRAIN" default:"5s" help:"how long the server keeps serving on SIGTERM while /readyz answers 503, before it stops accepting connections"`
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" env:"SHUTDOWN_TIMEOUT" default:"15s" help:"how long in-flight requests may then finish before they are cancelled"`
}

// Validate returns an error if only one of the TLS files is given, or a
// shutdown time is negative.
func (c *config) Validate() error {
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("TLS_CERT_FILE and TLS_KEY_FILE go together")
	case c.ShutdownDrain < 0:
		return errors.New("SHUTDOWN_DRAIN must not be negative")
	case c.ShutdownTimeout < 0:
		return errors.New("SHUTDOWN_TIMEOUT must not be negative")
	}
	return nil
}

// parseConfig parses the settings from args, then from getenv for every
// flag not given, over the built-in defaults; extra, if not nil, adds a
// subcommand's own flags. Help and error output show only the built-in
// defaults, never a value from the environment, and secrets (the
// environment-only settings) are no flags, so that neither `-h` nor `ps`
// shows them. An empty DATABASE_URL becomes the SQLite file in the data
// dir. Returns a helpRequest for -h, a usageError for an unknown flag, a
// malformed flag value or a stray argument, or an error for a malformed
// environment value or an invalid setting.
func parseConfig(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (*config, error) {
	var c config
	fs := newFlagSet(name)
	tree := settings.New(&c)
	tree.Flags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := tree.FromEnv(fs, getenv); err != nil {
		return nil, err
	}
	if err := settings.Validate(&c); err != nil {
		return nil, err
	}
	if c.App.DatabaseURL == "" {
		c.App.DatabaseURL = "file:" + filepath.Join(c.DataDir, "bitgate.db")
	}
	return &c, nil
}
