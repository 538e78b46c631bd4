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
//
// Two more rewrites take gqlgen's per-field and per-object bookkeeping off
// values that cannot use it (with graph/object.go, two fifths of the
// allocations of a books(first: 10) request):
//
//   - A plain field (a Go struct field of a scalar whose marshaller never
//     answers null: String, Boolean, Int, ID, Cursor; no resolver, method,
//     arguments or directives) is marshalled where its object is, from the
//     struct field, instead of through graphql.ResolveField, which gives
//     each such field a FieldContext, a context and three closures to run a
//     resolver that only reads the field. Nothing can fail there, so no
//     error needs the field's path; a field middleware (a gqlgen extension
//     that is a graphql.FieldInterceptor; the server has none) would not
//     see these fields.
//   - An object none of whose fields runs concurrently never defers any
//     (gqlgen only defers concurrent fields), so it does not build the
//     empty DeferredGroup gqlgen gives every object, with its copy of the
//     response path, and it is marshalled into a plainObject
//     (graph/object.go) instead of a graphql.FieldSet.
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
	found := &plainValues{}
	if err := api.Generate(cfg, api.AddPlugin(found)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	if err := rewrite(cfg.Exec.Filename, found); err != nil {
		log.Fatalf("%s: %v", cfg.Exec.Filename, err)
	}
}

// plainValues is a gqlgen plugin that finds what the rewrites apply to (see
// the package comment): the marshal functions of the lists whose elements
// qualify, the plain fields, and the objects without concurrent fields.
type plainValues struct {
	marshalFuncs []string
	fields       []plainField
	objects      []string
}

// plainField is a field marshalled where its object is.
type plainField struct {
	object, field string // GraphQL names
	value         string // the Go expression of its value, as gqlgen writes it
	marshalFunc   string
}

// nullFree are the scalars whose marshallers never answer null for a value
// (Time is not one: the zero time is null).
var nullFree = map[string]bool{"String": true, "Boolean": true, "Int": true, "ID": true, "Cursor": true}

// Name names the plugin.
func (*plainValues) Name() string { return "plainvalues" }

// GenerateCode records what qualifies; gqlgen writes the executor after
// the plugins have run.
func (p *plainValues) GenerateCode(data *codegen.Data) error {
	for _, ref := range data.ReferencedTypes {
		if ref.IsSlice() && ref.Definition != nil && plain(data, ref.Definition, map[string]bool{}) {
			p.marshalFuncs = append(p.marshalFuncs, ref.MarshalFunc())
		}
	}
	slices.Sort(p.marshalFuncs)
	for _, obj := range data.Objects {
		if obj.Root || strings.HasPrefix(obj.Name, "__") {
			continue
		}
		if !obj.IsConcurrent() {
			p.objects = append(p.objects, obj.Name)
		}
		for _, f := range obj.Fields {
			ref := f.TypeReference
			if f.GoFieldType != codegen.GoFieldVariable || f.IsResolver || f.Batch || f.HasHaser ||
				len(f.Args) > 0 || len(f.Directives) > 0 || ref.IsSlice() || !nullFree[ref.Definition.Name] {
				continue
			}
			p.fields = append(p.fields, plainField{
				object: obj.Name, field: f.Name,
				value: f.GoReceiverName + "." + f.GoFieldName, marshalFunc: ref.MarshalFunc(),
			})
		}
	}
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

// The code of an object's marshal function (codegen/object.gotpl) that
// only an object with concurrent fields needs.
const (
	newFieldSet     = "out := graphql.NewFieldSet(fields)"
	newDeferred     = "\tdeferred := graphql.NewDeferredGroup(ctx)\n"
	processDeferred = "\n\tif n := len(deferred.Defers); n > 0 {\n\t\tatomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))\n\t\tec.ProcessDeferredGroup(deferred)\n\t}\n"
)

// rewrite applies the rewrites of the package comment to the executor's
// file. It fails if a function or the code it changes is not where
// gqlgen's templates put them.
func rewrite(file string, found *plainValues) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	src := string(b)
	for _, name := range found.marshalFuncs {
		err := replaceIn(&src, name, func(body string) (string, error) {
			if strings.Count(body, concurrent) != 1 {
				return "", fmt.Errorf("%s does not call graphql.MarshalSliceConcurrently as expected", name)
			}
			return strings.Replace(body, concurrent, inOrder, 1), nil
		})
		if err != nil {
			return err
		}
	}
	for _, f := range found.fields {
		resolver := "_" + f.object + "_" + f.field
		err := replaceIn(&src, resolver, func(body string) (string, error) {
			if !strings.Contains(body, "return "+f.value+", nil") {
				return "", fmt.Errorf("%s does not return %s", resolver, f.value)
			}
			return body, nil
		})
		if err != nil {
			return err
		}
		call := "out.Values[i] = ec." + resolver + "(ctx, field, obj)"
		err = replaceIn(&src, "_"+f.object, func(body string) (string, error) {
			if strings.Count(body, call) != 1 {
				return "", fmt.Errorf("_%s does not call %s as expected", f.object, resolver)
			}
			return strings.Replace(body, call, "out.Values[i] = ec."+f.marshalFunc+"(ctx, field.Selections, "+f.value+")", 1), nil
		})
		if err != nil {
			return err
		}
	}
	for _, name := range found.objects {
		err := replaceIn(&src, "_"+name, func(body string) (string, error) {
			if strings.Count(body, newDeferred) != 1 || strings.Count(body, processDeferred) != 1 || strings.Count(body, "deferred") != 3 {
				return "", fmt.Errorf("_%s does not use its DeferredGroup as expected", name)
			}
			if strings.Count(body, newFieldSet) != 1 {
				return "", fmt.Errorf("_%s does not build a graphql.FieldSet as expected", name)
			}
			body = strings.Replace(body, newFieldSet, "out := newPlainObject(fields)", 1)
			return strings.Replace(strings.Replace(body, newDeferred, "", 1), processDeferred, "", 1), nil
		})
		if err != nil {
			return err
		}
	}
	return os.WriteFile(file, []byte(src), 0o644)
}

// replaceIn replaces the method of the executor named name in *src by what
// change makes of it.
func replaceIn(src *string, name string, change func(body string) (string, error)) error {
	start := strings.Index(*src, "func (ec *executionContext) "+name+"(")
	if start < 0 {
		return fmt.Errorf("no function %s", name)
	}
	end := start + strings.Index((*src)[start:], "\n}\n")
	body, err := change((*src)[start:end])
	if err != nil {
		return err
	}
	*src = (*src)[:start] + body + (*src)[end:]
	return nil
}
