//go:build ignore

// Command gen runs gqlgen with gqlgen.yml, as `go run
// github.com/99designs/gqlgen` does, then makes the executor it wrote marshal
// in order, on the caller's goroutine, every list whose elements have no
// field that gqlgen runs concurrently. Run it from the repository root (go
// generate does):
//
//	go run ./graph/gen/main.go
//
// gqlgen marshals each element of a list of objects or enums on a goroutine
// of its own, whatever the elements hold, so that the resolvers of
// different elements may wait on the database at the same time. A list of
// plain values, such as a page of books, gains nothing from that and pays
// for a goroutine per element and the growth of its stack (a fifth of the
// CPU of a books(first: 10) request). An element type qualifies when
// neither it nor any object under it has a resolver or a method taking a
// context (gqlgen's own test for running a field concurrently); its lists
// call marshalSliceInOrder (graph/slice.go) instead.
package main

import (
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

// concurrent is the call gqlgen writes in the marshal function of a list
// (codegen/type.gotpl), and inOrder its replacement.
const (
	concurrent = "graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {"
	inOrder    = "marshalSliceInOrder(ctx, len(v), func(ctx context.Context, i int) graphql.Marshaler {"
)

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("load gqlgen config: %v", err)
	}
	lists := &plainLists{}
	if err := api.Generate(cfg, api.AddPlugin(lists)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	if err := rewrite(cfg.Exec.Filename, lists.marshalFuncs); err != nil {
		log.Fatalf("%s: %v", cfg.Exec.Filename, err)
	}
}

// plainLists is a gqlgen plugin that finds the marshal functions of the
// lists whose elements qualify (see the package comment).
type plainLists struct{ marshalFuncs []string }

// Name names the plugin.
func (*plainLists) Name() string { return "plainlists" }

// GenerateCode records the qualifying lists; gqlgen writes the executor
// after the plugins have run.
func (p *plainLists) GenerateCode(data *codegen.Data) error {
	for _, ref := range data.ReferencedTypes {
		if ref.IsSlice() && ref.Definition != nil && plain(data, ref.Definition, map[string]bool{}) {
			p.marshalFuncs = append(p.marshalFuncs, ref.MarshalFunc())
		}
	}
	slices.Sort(p.marshalFuncs)
	return nil
}

// plain reports whether values of def can be marshalled without running
// anything concurrently: an enum, or an object none of whose fields is
// concurrent, and whose object fields are plain too. Interfaces and unions
// are not (their implementations may differ). seen breaks cycles.
func plain(data *codegen.Data, def *ast.Definition, seen map[string]bool) bool {
	switch def.Kind {
	case ast.Enum:
		return true
	case ast.Object:
	default:
		return false
	}
	if seen[def.Name] {
		return true
	}
	seen[def.Name] = true
	obj := data.Objects.ByName(def.Name)
	if obj == nil || obj.IsConcurrent() {
		return false
	}
	for _, f := range obj.Fields {
		if d := f.TypeReference.Definition; d != nil && d.Kind != ast.Scalar && !plain(data, d, seen) {
			return false
		}
	}
	return true
}

// rewrite replaces, in each of the named marshal functions of the file,
// gqlgen's concurrent call with the in-order one. It fails if a function
// or its call is not where gqlgen's template puts them.
func rewrite(file string, funcs []string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	src := string(b)
	for _, name := range funcs {
		start := strings.Index(src, "func (ec *executionContext) "+name+"(")
		if start < 0 {
			return fmt.Errorf("no function %s", name)
		}
		end := start + strings.Index(src[start:], "\n}\n")
		body := src[start:end]
		if strings.Count(body, concurrent) != 1 {
			return fmt.Errorf("%s does not call graphql.MarshalSliceConcurrently as expected", name)
		}
		src = src[:start] + strings.Replace(body, concurrent, inOrder, 1) + src[end:]
	}
	return os.WriteFile(file, []byte(src), 0o644)
}
