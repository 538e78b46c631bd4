// Command gen runs gqlgen with gqlgen.yml, as `go run
// github.com/99designs/gqlgen` does, then rewrites three things in the
// executor it wrote (graph/generated.go), each to marshal values that
// cannot use gqlgen's concurrency without paying for it. Run it from the
// repository root (go generate does):
//
//	go run ./graph/gen/main.go
//
// The rewrites, by the names their errors give them:
//
//   - In-order lists. gqlgen marshals each element of a list of objects or
//     enums on a goroutine of its own, so that the resolvers of different
//     elements may wait on the database at the same time. A list whose
//     elements marshal in order (an enum, or an object neither it nor any
//     object under it has a field gqlgen runs concurrently: a resolver, or
//     a method taking a context) gains nothing from that and pays for a
//     goroutine per element and the growth of its stack (a fifth of the CPU
//     of a books(first: 10) request). Its marshal function calls
//     marshalSliceInOrder (graph/slice.go) instead.
//   - In-place fields. A Go struct field with no resolver, method,
//     arguments or directives, bound in gqlgen.yml to a marshaller that
//     never answers null (see neverNull), is marshalled where its object
//     is, from the struct field, instead of through graphql.ResolveField,
//     which gives each such field a FieldContext, a context and three
//     closures to run a resolver that only reads the field. Nothing can
//     fail there, so no error needs the field's path. A field middleware (a
//     graphql.FieldInterceptor: a tracer, srv.AroundFields) would not see
//     these fields, so the server refuses to run with one (graph.NewServer
//     registers fieldMiddlewareGuard; TestFieldMiddlewareIsRefused).
//   - Sequential objects (gqlgen's word for an object none of whose fields
//     it runs concurrently). gqlgen only defers concurrent fields, so such
//     an object does not build the empty DeferredGroup gqlgen gives every
//     object, with its copy of the response path, and it is marshalled
//     into a sequentialObject (graph/object.go) instead of a
//     graphql.FieldSet.
//
// The last two take two fifths of the allocations of a books(first: 10)
// request. Each rewrite edits the text gqlgen's templates write, and each
// edit must match exactly once where it is expected: otherwise the program
// fails with an error naming the rewrite, the function and the text that
// no longer matches (main_test.go changes the anchors to check that).
//
// To turn the rewrites off (to register a field middleware, say), generate
// with gqlgen itself: put github.com/99designs/gqlgen in place of
// ./graph/gen/main.go in generate.go, run go generate ./..., and delete
// graph/object.go, graph/slice.go, graph/fieldguard.go (and its line in
// NewServer) with their tests. A books(first: 10) request then takes 1.7
// times the allocations and a fifth to a third more CPU.
package main

import (
	"fmt"
	"go/types"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("load gqlgen config: %v", err)
	}
	t := &targets{}
	if err := api.Generate(cfg, api.AddPlugin(t)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	if !t.found {
		log.Fatalf("gqlgen did not run the %s plugin: nothing to rewrite", t.Name())
	}
	file := cfg.Exec.Filename
	b, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	src, err := apply(string(b), t.edits())
	if err != nil {
		log.Fatalf("%s: %v\ngqlgen's templates no longer write what the rewrite expects: "+
			"update graph/gen/main.go, or turn the rewrites off (see its package comment)", file, err)
	}
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		log.Fatal(err)
	}
}

// The rewrites, as their errors name them.
const (
	inOrderLists      = "in-order lists"
	inPlaceFields     = "in-place fields"
	sequentialObjects = "sequential objects"
)

// targets is a gqlgen plugin that finds what the rewrites apply to.
type targets struct {
	found             bool
	inOrderLists      []string // the marshal functions of the lists
	inPlaceFields     []inPlaceField
	sequentialObjects []string // GraphQL names
}

// inPlaceField is a field marshalled where its object is.
type inPlaceField struct {
	object, field string // GraphQL names
	value         string // the Go expression of its value, as gqlgen writes it
	marshalFunc   string
}

// Name names the plugin.
func (*targets) Name() string { return "rewrite-targets" }

// GenerateCode records the targets; gqlgen writes the executor after the
// plugins have run.
func (t *targets) GenerateCode(data *codegen.Data) error {
	t.found = true
	for _, ref := range data.ReferencedTypes {
		if ref.IsSlice() && ref.Definition != nil && marshalsInOrder(data, ref.Definition, map[string]bool{}) {
			t.inOrderLists = append(t.inOrderLists, ref.MarshalFunc())
		}
	}
	slices.Sort(t.inOrderLists)
	for _, obj := range data.Objects {
		if obj.Root || strings.HasPrefix(obj.Name, "__") {
			continue
		}
		if !obj.IsConcurrent() {
			t.sequentialObjects = append(t.sequentialObjects, obj.Name)
		}
		for _, f := range obj.Fields {
			if inPlace(f) {
				t.inPlaceFields = append(t.inPlaceFields, inPlaceField{
					object: obj.Name, field: f.Name,
					value: f.GoReceiverName + "." + f.GoFieldName, marshalFunc: f.TypeReference.MarshalFunc(),
				})
			}
		}
	}
	return nil
}

// marshalsInOrder reports whether values of def can be marshalled without
// running anything concurrently: an enum, or an object none of whose
// fields is concurrent and whose object fields marshal in order too.
// Interfaces and unions do not (their implementations may differ). seen
// breaks cycles.
func marshalsInOrder(data *codegen.Data, def *ast.Definition, seen map[string]bool) bool {
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
		if d := f.TypeReference.Definition; d != nil && d.Kind != ast.Scalar && !marshalsInOrder(data, d, seen) {
			return false
		}
	}
	return true
}

// inPlace reports whether f is an in-place field: a Go struct field, with
// no resolver, arguments or directives, of a single value whose marshaller
// never answers null.
func inPlace(f *codegen.Field) bool {
	ref := f.TypeReference
	return f.GoFieldType == codegen.GoFieldVariable && !f.IsResolver && !f.Batch && !f.HasHaser &&
		len(f.Args) == 0 && len(f.Directives) == 0 &&
		ref != nil && ref.Definition != nil && !ref.IsSlice() && neverNull[marshaller(ref)]
}

// neverNull are the marshallers, by the Go names marshaller gives them,
// that answer a value for every value, never null, never panic and need
// no context. A field gqlgen.yml binds to any other marshaller (Time's,
// say, which answers null for the zero time) is not written in place: a
// null there would be reported at its object's path, not its own.
var neverNull = map[string]bool{
	"github.com/99designs/gqlgen/graphql.MarshalString":  true,
	"github.com/99designs/gqlgen/graphql.MarshalBoolean": true,
	"github.com/99designs/gqlgen/graphql.MarshalInt":     true,
	"bitgate/ent/schema/uuidgql.MarshalUUID":             true,
	"entgo.io/contrib/entgql.Cursor.MarshalGQL":          true,
}

// marshaller returns the Go name of what marshals the values of ref, as
// gqlgen's binder found it from gqlgen.yml: "path/to/pkg.Func" for a
// marshal function, "path/to/pkg.Type.MarshalGQL" for a type that
// marshals itself, "" for one that needs a context or is bound to neither.
func marshaller(ref *config.TypeReference) string {
	switch {
	case ref.IsContext:
		return ""
	case ref.Marshaler != nil:
		return goName(ref.Marshaler)
	case ref.IsMarshaler:
		t := ref.GO
		for p, ok := t.(*types.Pointer); ok; p, ok = t.(*types.Pointer) {
			t = p.Elem()
		}
		if n, ok := types.Unalias(t).(*types.Named); ok {
			if name := goName(n.Origin().Obj()); name != "" {
				return name + ".MarshalGQL"
			}
		}
	}
	return ""
}

// goName returns "path/to/pkg.Name" for a package-level obj, "" for
// another.
func goName(obj types.Object) string {
	if obj.Pkg() == nil {
		return ""
	}
	return obj.Pkg().Path() + "." + obj.Name()
}

// The code gqlgen writes (codegen/type.gotpl, codegen/object.gotpl, and
// codegen/field.gotpl for a field's resolver) that the rewrites change.
const (
	concurrentSlice = "graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {"
	inOrderSlice    = "marshalSliceInOrder(ctx, len(v), func(ctx context.Context, i int) graphql.Marshaler {"
	newFieldSet     = "out := graphql.NewFieldSet(fields)"
	newSequential   = "out := newSequentialObject(fields)"
	newDeferred     = "\tdeferred := graphql.NewDeferredGroup(ctx)\n"
	processDeferred = "\n\tif n := len(deferred.Defers); n > 0 {\n\t\tatomic.AddInt32(&ec.Deferred, int32(min(n, math.MaxInt32)))\n\t\tec.ProcessDeferredGroup(deferred)\n\t}\n"
)

// edit is one change of one method of the executor: old, which must occur
// in it exactly once, becomes new (old itself for a check that gqlgen
// wrote what a rewrite relies on). Once it is made, the method must not
// hold gone, if set.
type edit struct {
	rewrite  string // one of the rewrites' names
	method   string
	old, new string
	gone     string
}

// edits returns the edits of every target.
func (t *targets) edits() []edit {
	var edits []edit
	for _, name := range t.inOrderLists {
		edits = append(edits, edit{rewrite: inOrderLists, method: name, old: concurrentSlice, new: inOrderSlice})
	}
	for _, f := range t.inPlaceFields {
		resolver := "_" + f.object + "_" + f.field
		read := "return " + f.value + ", nil" // the resolver only reads the value
		call := "out.Values[i] = ec." + resolver + "(ctx, field, obj)"
		edits = append(edits,
			edit{rewrite: inPlaceFields, method: resolver, old: read, new: read},
			edit{rewrite: inPlaceFields, method: "_" + f.object, old: call,
				new: "out.Values[i] = ec." + f.marshalFunc + "(ctx, field.Selections, " + f.value + ")"})
	}
	for _, name := range t.sequentialObjects {
		edits = append(edits,
			edit{rewrite: sequentialObjects, method: "_" + name, old: newFieldSet, new: newSequential},
			edit{rewrite: sequentialObjects, method: "_" + name, old: newDeferred},
			edit{rewrite: sequentialObjects, method: "_" + name, old: processDeferred, gone: "deferred"})
	}
	return edits
}

// apply makes edits in src, the executor's text, in order. It returns an
// error naming the edit's rewrite, method and text if a method is not
// there once, or an edit's text is not in its method once, or what it
// must remove is still there.
func apply(src string, edits []edit) (string, error) {
	for _, e := range edits {
		header := "\nfunc (ec *executionContext) " + e.method + "("
		if n := strings.Count(src, header); n != 1 {
			return "", e.errorf("the method is written %d times, want once", n)
		}
		start := strings.Index(src, header) + 1
		n := strings.Index(src[start:], "\n}\n")
		if n < 0 {
			return "", e.errorf("the method has no end (no line \"}\" after it)")
		}
		end := start + n
		body := src[start:end]
		if n := strings.Count(body, e.old); n != 1 {
			return "", e.errorf("%q occurs %d times in it, want once", e.old, n)
		}
		body = strings.Replace(body, e.old, e.new, 1)
		if e.gone != "" && strings.Contains(body, e.gone) {
			return "", e.errorf("it still uses %q once %q is removed", e.gone, e.old)
		}
		src = src[:start] + body + src[end:]
	}
	return src, nil
}

// errorf returns an error of e that names its rewrite and method.
func (e edit) errorf(format string, args ...any) error {
	return fmt.Errorf("rewrite %q, method %s: %s", e.rewrite, e.method, fmt.Sprintf(format, args...))
}
