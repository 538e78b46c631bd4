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
// The packages that declare settings do not import this one: the tags are
// plain strings, read here.
package settings

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Setting is one declared setting: a field of a configuration tree and its
// tags. As a flag.Value it reads and writes that field.
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

	field reflect.Value
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// List returns the settings declared in the tree cfg points to, in the
// order of the fields. It panics if cfg is not a pointer to a struct, or a
// tagged field has a type Set cannot parse: both are mistakes in the
// declarations, which every test of a configuration finds.
func List(cfg any) []*Setting {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("settings: %T is not a pointer to a struct", cfg))
	}
	var list []*Setting
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) bool {
		flagName, env := f.Tag.Get("flag"), f.Tag.Get("env")
		if flagName == "" && env == "" {
			return true
		}
		if !parsable(f.Type) {
			panic(fmt.Sprintf("settings: %s (%s) has type %s, which a setting cannot have", f.Name, env, f.Type))
		}
		list = append(list, &Setting{Flag: flagName, Env: env, Default: f.Tag.Get("default"), Help: f.Tag.Get("help"), field: fv})
		return false
	})
	return list
}

// walk calls visit on every exported field of the struct v, and descends
// into the untagged fields that are structs themselves when visit returns
// true.
func walk(v reflect.Value, visit func(reflect.StructField, reflect.Value) bool) {
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		if visit(f, fv) && fv.Kind() == reflect.Struct && f.Type != prefixType {
			walk(fv, visit)
		}
	}
}

// parsable reports whether Set can parse a setting of type t.
func parsable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String || t.Elem() == prefixType
	}
	return false
}

// Defaults sets every setting of the tree cfg points to to its default.
// It panics if a default does not parse (see List).
func Defaults(cfg any) {
	for _, s := range List(cfg) {
		if err := s.reset(); err != nil {
			panic(err)
		}
	}
}

// Default returns a T whose settings hold their defaults, for a package
// that uses its configuration on its own (in a test, say).
func Default[T any]() T {
	var v T
	Defaults(&v)
	return v
}

// reset sets the field to its default.
func (s *Setting) reset() error {
	s.field.SetZero()
	if s.Default == "" {
		return nil
	}
	if err := s.Set(s.Default); err != nil {
		return fmt.Errorf("settings: default of %s: %w", s.Env, err)
	}
	return nil
}

// Set parses v into the field: a number as strconv and a duration as
// time.ParseDuration read them, a list as comma-separated items (blanks
// dropped), an address prefix as a CIDR or a single address. It returns an
// error, without the value (it may be a secret), if v does not parse.
func (s *Setting) Set(v string) error {
	f := s.field
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (such as 90s, 15m or 720h)")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(v)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("not true or false")
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(v, 0, f.Type().Bits())
		if err != nil {
			return errors.New("not an integer")
		}
		f.SetInt(n)
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number")
		}
		f.SetFloat(x)
	default: // a list
		items := reflect.MakeSlice(f.Type(), 0, 0)
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			var x any = item
			if f.Type().Elem() == prefixType {
				p, err := parsePrefix(item)
				if err != nil {
					return fmt.Errorf("%q is not an address or a CIDR", item)
				}
				x = p
			}
			items = reflect.Append(items, reflect.ValueOf(x))
		}
		f.Set(items)
	}
	return nil
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

// String returns the field's value as a flag would be written.
func (s *Setting) String() string {
	if !s.field.IsValid() {
		return ""
	}
	switch f := s.field; {
	case f.Kind() == reflect.Slice:
		items := make([]string, f.Len())
		for i := range items {
			items[i] = fmt.Sprint(f.Index(i).Interface())
		}
		return strings.Join(items, ",")
	default:
		return fmt.Sprint(f.Interface())
	}
}

// IsBoolFlag lets a boolean setting's flag stand alone (-promote, not
// -promote=true).
func (s *Setting) IsBoolFlag() bool { return s.field.Kind() == reflect.Bool }

// Type names the kind of value the setting takes, for help.
func (s *Setting) Type() string {
	switch t := s.field.Type(); {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list"
	case t.Kind() == reflect.Bool:
		return ""
	case t.Kind() == reflect.Int64:
		return "int"
	case t.Kind() == reflect.Float64:
		return "float"
	default:
		return t.Kind().String()
	}
}

// Bind sets every setting of the tree cfg points to to its default and
// defines a flag on fs for each that has one; its usage is the setting's
// help followed by its environment variable in parentheses. It returns the
// settings (see List).
func Bind(fs *flag.FlagSet, cfg any) []*Setting {
	list := List(cfg)
	for _, s := range list {
		if err := s.reset(); err != nil {
			panic(err)
		}
		if s.Flag != "" {
			fs.Var(s, s.Flag, s.Help+" ("+s.Env+")")
		}
	}
	return list
}

// FromEnv sets each setting of list whose flag was not given on fs (and
// each that has no flag) from its environment variable, when getenv
// returns it non-empty. Returns an error naming the variable whose value
// does not parse.
func FromEnv(fs *flag.FlagSet, list []*Setting, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range list {
		if v := getenv(s.Env); v != "" && (s.Flag == "" || !given[s.Flag]) {
			if err := s.Set(v); err != nil {
				return fmt.Errorf("%s: invalid value: %w", s.Env, err)
			}
		}
	}
	return nil
}

// validator is a struct of a configuration tree that checks its settings.
type validator interface{ Validate() error }

// Validate calls the Validate method of every struct of the tree cfg
// points to that has one, the root first, then the nested structs in the
// order of the fields, and returns the first error.
func Validate(cfg any) error {
	v := reflect.ValueOf(cfg)
	if c, ok := cfg.(validator); ok {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	var err error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) bool {
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
