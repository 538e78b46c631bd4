package settings_test

import (
	"errors"
	"flag"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/settings"
)

// inner is a nested section, as a package's own configuration is.
type inner struct {
	Timeout time.Duration  `flag:"timeout" env:"TIMEOUT" default:"5s" help:"a duration"`
	Proxies []netip.Prefix `flag:"proxies" env:"PROXIES" help:"a list of prefixes"`
	Ready   func() error   // not a setting
}

func (i *inner) Validate() error {
	if i.Timeout <= 0 {
		return errors.New("TIMEOUT must be positive")
	}
	return nil
}

type tree struct {
	Name   string   `flag:"name" env:"NAME" default:"x" help:"a string"`
	Secret string   `env:"SECRET" help:"environment only"`
	Count  int      `flag:"count" env:"COUNT" default:"3" help:"an int"`
	Bytes  int64    `flag:"bytes" env:"BYTES" help:"an int64"`
	Rate   float64  `flag:"rate" env:"RATE" default:"0.5" help:"a float"`
	On     bool     `flag:"on" env:"ON" help:"a bool"`
	List   []string `flag:"list" env:"LIST" help:"a list"`
	Inner  inner
	Log    *int // not a setting
}

func (t *tree) Validate() error {
	if t.Count < 0 {
		return errors.New("COUNT must not be negative")
	}
	return nil
}

// parse binds a tree to a flag set, parses args, then the environment.
func parse(t *testing.T, args []string, env map[string]string) (*tree, error) {
	t.Helper()
	var c tree
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tr := settings.New(&c)
	tr.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := tr.FromEnv(fs, func(k string) string { return env[k] }); err != nil {
		return nil, err
	}
	return &c, settings.Validate(&c)
}

// TestList walks the tree in field order, into nested sections, and skips
// untagged fields.
func TestList(t *testing.T) {
	var envs []string
	for _, s := range settings.New(new(tree)).Settings {
		envs = append(envs, s.Env)
	}
	require.Equal(t, []string{"NAME", "SECRET", "COUNT", "BYTES", "RATE", "ON", "LIST", "TIMEOUT", "PROXIES"}, envs)
}

// TestDefaults sets the declared defaults and zero elsewhere.
func TestDefaults(t *testing.T) {
	c := settings.Default[tree]()
	require.Equal(t, tree{Name: "x", Count: 3, Rate: 0.5, Inner: inner{Timeout: 5 * time.Second}}, c)
}

// TestEnvironmentAndFlags reads each kind of value from the environment
// and from flags; a flag given beats its variable, an empty variable is
// unset, and a secret is read from the environment only.
func TestEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"NAME": "from env", "SECRET": "s3cret", "COUNT": "7", "BYTES": "0x10", "RATE": "2.5", "ON": "true",
		"LIST": " a, ,b ,", "TIMEOUT": "1m", "PROXIES": "10.0.0.0/8, 192.0.2.1, 2001:db8::1",
	}
	c, err := parse(t, []string{"-count", "9", "--on=false"}, env)
	require.NoError(t, err)
	require.Equal(t, "from env", c.Name)
	require.Equal(t, "s3cret", c.Secret)
	require.Equal(t, 9, c.Count, "the flag beats COUNT")
	require.Equal(t, int64(16), c.Bytes)
	require.Equal(t, 2.5, c.Rate)
	require.False(t, c.On, "the flag beats ON")
	require.Equal(t, []string{"a", "b"}, c.List)
	require.Equal(t, time.Minute, c.Inner.Timeout)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::1/128"),
	}, c.Inner.Proxies)

	c, err = parse(t, []string{"-on"}, map[string]string{"NAME": "", "COUNT": ""})
	require.NoError(t, err)
	require.Equal(t, "x", c.Name, "an empty variable leaves the default")
	require.True(t, c.On, "a bool flag stands alone")

	_, err = parse(t, []string{"-secret", "s"}, nil)
	require.ErrorContains(t, err, "flag provided but not defined: -secret")
}

// TestMalformedValues names the variable, or the flag, whose value does
// not parse, and never repeats a variable's value (it may be a secret).
func TestMalformedValues(t *testing.T) {
	for _, env := range []string{"COUNT", "BYTES", "RATE", "ON", "TIMEOUT"} {
		_, err := parse(t, nil, map[string]string{env: "value-9f1c"})
		require.EqualError(t, err, env+": invalid value: parse error")
	}
	_, err := parse(t, nil, map[string]string{"PROXIES": "10.0.0.1, example.com"})
	require.EqualError(t, err, `PROXIES: invalid value: "example.com" is not an address or a CIDR`)
	_, err = parse(t, []string{"-count", "many"}, nil)
	require.ErrorContains(t, err, `invalid value "many" for flag -count: parse error`)
}

// TestValidate runs the Validate method of the root, then of the nested
// sections.
func TestValidate(t *testing.T) {
	_, err := parse(t, nil, map[string]string{"TIMEOUT": "0s"})
	require.EqualError(t, err, "TIMEOUT must be positive")
	_, err = parse(t, nil, map[string]string{"TIMEOUT": "0s", "COUNT": "-1"})
	require.EqualError(t, err, "COUNT must not be negative", "the root first")
}

// TestHelpShowsDefaults: a flag's usage names its variable, and its
// default is the declared one, whatever the environment says.
func TestHelpShowsDefaults(t *testing.T) {
	var c tree
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	settings.New(&c).Flags(fs)
	require.Equal(t, "a duration (TIMEOUT)", fs.Lookup("timeout").Usage)
	require.Equal(t, "5s", fs.Lookup("timeout").DefValue)
	typ, usage := flag.UnquoteUsage(fs.Lookup("list"))
	require.Equal(t, "list", typ)
	require.Equal(t, "comma-separated list of a list (LIST)", usage)
	require.Nil(t, fs.Lookup("secret"), "an environment-only setting has no flag")
}

// TestUnsupportedType refuses a setting Set could not parse, and a
// default that does not parse.
func TestUnsupportedType(t *testing.T) {
	require.PanicsWithValue(t, "settings: M (M) has type map[string]string, which a setting cannot have", func() {
		settings.New(&struct {
			M map[string]string `env:"M"`
		}{})
	})
	require.Panics(t, func() {
		settings.Default[struct {
			N int `env:"N" default:"ten"`
		}]()
	})
}
