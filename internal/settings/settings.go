// Package settings reads the settings declared in a configuration tree: a
// struct whose fields, and the fields of the structs nested in it, may
// each declare one setting with tags,
//
//	MaxInFlight int `flag:"max-in-flight" env:"MAX_IN_FLIGHT" default:"256" help:"requests running GraphQL at once"`
//
// A field with an env tag and no flag tag is read from the environment
// only (a secret, which neither ps nor -h may show). Untagged fields are
// not settings: a nested struct is walked, anything else (a logger, a
// clock, a handler) is left alone. A struct of the tree may check its
// settings with a Validate() error method (see Validate).
//
// A setting is a string, bool, int, int64, float64 or time.Duration, read
// as the flag package reads them, or a comma-separated list of strings or
// of address prefixes. The packages that declare settings do not import
// this one: the tags are plain strings, read here.
package settings

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

// Setting is one declared setting.
type Setting struct {
	// Flag is the flag's name without its dash; empty for a setting read
	// from the environment only.
	Flag string
	// Env is the environment variable.
	Env string
	// Default is the value the setting has unless a flag or the
	// environment gives one, as the flag would be written; empty means the
	// field's zero value.
	Default string
	// Help says what the setting does, in one line.
	Help string

	field any // a pointer to the field
}

// Tree is the settings of one configuration tree, bound to its fields.
type Tree struct {
	// Settings are in the order of the fields.
	Settings []Setting
	values   *flag.FlagSet // every setting, named by its variable
}

// New returns the settings declared in the tree cfg points to, every one
// set to its default. It panics if cfg is not a pointer to a struct, a
// tagged field has a type a setting cannot have, or a default does not
// parse: mistakes in the declarations, which any test of the tree finds.
func New(cfg any) *Tree {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("settings: %T is not a pointer to a struct", cfg))
	}
	t := &Tree{values: flag.NewFlagSet("settings", flag.ContinueOnError)}
	t.values.SetOutput(io.Discard)
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) bool {
		s := Setting{Flag: f.Tag.Get("flag"), Env: f.Tag.Get("env"), Default: f.Tag.Get("default"), Help: f.Tag.Get("help")}
		if s.Flag == "" && s.Env == "" {
			return true
		}
		s.field = fv.Addr().Interface()
		if !define(t.values, s.Env, s.field, "") {
			panic(fmt.Sprintf("settings: %s (%s) has type %s, which a setting cannot have", f.Name, s.Env, f.Type))
		}
		if s.Default != "" {
			if err := t.values.Set(s.Env, s.Default); err != nil {
				panic(fmt.Sprintf("settings: the default of %s: %v", s.Env, err))
			}
		}
		t.Settings = append(t.Settings, s)
		return false
	})
	return t
}

// walk calls visit on every exported field of the struct v, and descends
// into the fields that are structs themselves when visit returns true.
func walk(v reflect.Value, visit func(reflect.StructField, reflect.Value) bool) {
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if f.IsExported() && visit(f, fv) && fv.Kind() == reflect.Struct {
			walk(fv, visit)
		}
	}
}

// define defines on fs a flag name that sets the field p points to, with
// the field's value as its default. It reports false for a field of a type
// no flag reads.
func define(fs *flag.FlagSet, name string, p any, usage string) bool {
	switch p := p.(type) {
	case *time.Duration:
		fs.DurationVar(p, name, *p, usage)
	case *string:
		fs.StringVar(p, name, *p, usage)
	case *bool:
		fs.BoolVar(p, name, *p, usage)
	case *int:
		fs.IntVar(p, name, *p, usage)
	case *int64:
		fs.Int64Var(p, name, *p, usage)
	case *float64:
		fs.Float64Var(p, name, *p, usage)
	case *[]string:
		fs.Var((*list)(p), name, usage)
	case *[]netip.Prefix:
		fs.Var((*prefixes)(p), name, usage)
	default:
		return false
	}
	return true
}

// Default returns a T whose settings hold their defaults, for code that
// builds a configuration without flags (tests, a package on its own).
func Default[T any]() T {
	var v T
	New(&v)
	return v
}

// Flags defines on fs a flag for each setting that has one; its usage is
// the setting's help (after "comma-separated list of" for a list) and its
// environment variable in parentheses, and its default the setting's.
func (t *Tree) Flags(fs *flag.FlagSet) {
	for _, s := range t.Settings {
		usage := s.Help + " (" + s.Env + ")"
		switch s.field.(type) {
		case *[]string, *[]netip.Prefix:
			usage = "comma-separated `list` of " + usage
		}
		if s.Flag != "" {
			define(fs, s.Flag, s.field, usage)
		}
	}
}

// FromEnv sets each setting whose flag was not given on fs (and each that
// has no flag) from its environment variable, when getenv returns it
// non-empty. Returns an error naming the variable whose value does not
// parse; the error holds no value of a string (it may be a secret).
func (t *Tree) FromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range t.Settings {
		if v := getenv(s.Env); v != "" && (s.Flag == "" || !given[s.Flag]) {
			if err := t.values.Set(s.Env, v); err != nil {
				return fmt.Errorf("%s: invalid value: %w", s.Env, err)
			}
		}
	}
	return nil
}

// list is a comma-separated list, blanks dropped.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	*l = nil
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// prefixes is a comma-separated list of CIDRs or single addresses (each a
// one-address prefix).
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	items := make([]string, len(*p))
	for i, x := range *p {
		items[i] = x.String()
	}
	return strings.Join(items, ",")
}

func (p *prefixes) Set(v string) error {
	var items list
	_ = items.Set(v)
	*p = nil
	for _, item := range items {
		prefix, err := netip.ParsePrefix(item)
		if a, aerr := netip.ParseAddr(item); err != nil && aerr == nil {
			prefix, err = netip.PrefixFrom(a, a.BitLen()), nil
		}
		if err != nil {
			return fmt.Errorf("%q is not an address or a CIDR", item)
		}
		*p = append(*p, prefix)
	}
	return nil
}

// validator is a struct of a configuration tree that checks its settings.
type validator interface{ Validate() error }

// Validate calls the Validate method of every struct of the tree cfg
// points to that has one, the root first, then the nested structs in the
// order of the fields, and returns the first error.
func Validate(cfg any) error {
	if c, ok := cfg.(validator); ok {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	var err error
	walk(reflect.ValueOf(cfg).Elem(), func(f reflect.StructField, fv reflect.Value) bool {
		if err != nil || fv.Kind() != reflect.Struct || f.Tag.Get("env") != "" {
			return false
		}
		if c, ok := fv.Addr().Interface().(validator); ok {
			err = c.Validate()
		}
		return err == nil
	})
	return err
}
