package main

import (
	"fmt"
	"go/types"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// stock are the targets of testdata/stock.txt: the executor's methods of
// Book, of its in-place fields, and of lists of BookEdge, as gqlgen writes
// them (refresh it from a run of go run github.com/99designs/gqlgen after
// an upgrade).
var stock = &targets{
	inOrderLists: []string{"marshalOBookEdge2ᚕᚖbitgateᚋentᚐBookEdge"},
	inPlaceFields: []inPlaceField{
		{object: "Book", field: "id", value: "obj.ID", marshalFunc: "marshalNID2githubᚗcomᚋgoogleᚋuuidᚐUUID"},
		{object: "Book", field: "title", value: "obj.Title", marshalFunc: "marshalNString2string"},
		{object: "Book", field: "author", value: "obj.Author", marshalFunc: "marshalNString2string"},
		{object: "Book", field: "isbn", value: "obj.Isbn", marshalFunc: "marshalOString2ᚖstring"},
		{object: "Book", field: "publishedYear", value: "obj.PublishedYear", marshalFunc: "marshalOInt2ᚖint"},
	},
	sequentialObjects: []string{"Book"},
}

// readFile returns the text of file.
func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return string(b)
}

// method returns the text of the executor's method name in src.
func method(t *testing.T, src, name string) string {
	t.Helper()
	start := strings.Index(src, "\nfunc (ec *executionContext) "+name+"(")
	require.GreaterOrEqual(t, start, 0, "no method %s", name)
	end := strings.Index(src[start:], "\n}\n")
	require.GreaterOrEqual(t, end, 0, "method %s has no end", name)
	return src[start : start+end+3]
}

// TestRewriteWritesTheExecutor rewrites gqlgen's text into what
// graph/generated.go holds.
func TestRewriteWritesTheExecutor(t *testing.T) {
	got, err := apply(readFile(t, "testdata/stock.txt"), stock.edits())
	require.NoError(t, err)
	generated := readFile(t, "../generated.go")
	for _, name := range []string{"_Book", "_Book_id", "_Book_title", "_Book_author", "_Book_isbn", "_Book_publishedYear",
		"marshalOBookEdge2ᚕᚖbitgateᚋentᚐBookEdge"} {
		require.Equal(t, method(t, generated, name), method(t, got, name))
	}
}

// TestRewriteFailsNamingTheEdit changes gqlgen's text where each edit of
// each rewrite is anchored, as a new template could: a method or an
// edit's text gone or written twice, a method without its end, a use of
// what an edit removes left behind. Each fails with an error that names
// the rewrite, the method and what no longer matches, and writes nothing.
func TestRewriteFailsNamingTheEdit(t *testing.T) {
	src := readFile(t, "testdata/stock.txt")
	edits := stock.edits()
	type change struct {
		name, src string
		edit      edit // the edit that fails: the first on its method for a change of the method
		problem   string
	}
	var changes []change
	changed := map[string]bool{} // methods
	for _, e := range edits {
		m := method(t, src, e.method)
		in := func(m2 string) string { return strings.Replace(src, m, m2, 1) }
		if !changed[e.method] {
			changed[e.method] = true
			changes = append(changes,
				change{e.method + " gone", in(strings.Replace(m, e.method+"(", e.method+"Renamed(", 1)), e,
					"the method is written 0 times, want once"},
				change{e.method + " twice", src + m[1:], e, "the method is written 2 times, want once"},
				change{e.method + " last, without its end", strings.TrimSuffix(in(""), "\n") + strings.TrimSuffix(m, "\n"), e,
					`the method has no end (no line "}" after it)`})
		}
		name := e.rewrite + " " + e.method + " " + label(e.old)
		changes = append(changes,
			change{name + " gone", in(strings.Replace(m, e.old, "", 1)), e,
				fmt.Sprintf("%q occurs 0 times in it, want once", e.old)},
			change{name + " twice", in(strings.Replace(m, e.old, e.old+e.old, 1)), e,
				fmt.Sprintf("%q occurs 2 times in it, want once", e.old)})
		if e.gone != "" {
			changes = append(changes, change{name + " with " + e.gone + " left",
				in(strings.Replace(m, "\treturn out\n", "\t_ = "+e.gone+"\n\treturn out\n", 1)), e,
				fmt.Sprintf("it still uses %q once %q is removed", e.gone, e.old)})
		}
	}
	require.Len(t, changes, 3*len(changed)+2*len(edits)+1, "every anchor of every edit is changed")
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			require.NotEqual(t, src, c.src, "the change changes nothing")
			got, err := apply(c.src, edits)
			require.EqualError(t, err, fmt.Sprintf("rewrite %q, method %s: %s", c.edit.rewrite, c.edit.method, c.problem))
			require.Empty(t, got)
		})
	}
}

// label returns the first line of an edit's text, shortened.
func label(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if r := []rune(line); len(r) > 32 {
		return string(r[:32]) + "…"
	}
	return line
}

// TestInPlaceDecidesByMarshaller writes a field in place by the marshaller
// gqlgen.yml binds to its type, not by the type's name: a String bound to
// a marshaller that may answer null (or needs a context) is marshalled by
// gqlgen's resolver, and a Cursor that marshals itself is in place.
func TestInPlaceDecidesByMarshaller(t *testing.T) {
	gqlgen := types.NewPackage("github.com/99designs/gqlgen/graphql", "graphql")
	mine := types.NewPackage("bitgate/graph/model", "model")
	entgql := types.NewPackage("entgo.io/contrib/entgql", "entgql")
	bound := func(scalar string, pkg *types.Package, fn string) *config.TypeReference {
		return &config.TypeReference{
			Definition: &ast.Definition{Kind: ast.Scalar, Name: scalar}, GQL: ast.NonNullNamedType(scalar, nil),
			GO: types.Typ[types.String], Marshaler: types.NewFunc(0, pkg, fn, nil),
		}
	}
	cursor := types.NewNamed(types.NewTypeName(0, entgql, "Cursor", nil), types.NewStruct(nil, nil), nil)
	for _, tc := range []struct {
		name    string
		ref     *config.TypeReference
		inPlace bool
	}{
		{"String, gqlgen's", bound("String", gqlgen, "MarshalString"), true},
		{"String, bound to a marshaller of its own", bound("String", mine, "MarshalNullableString"), false},
		{"String, bound to a context marshaller", func() *config.TypeReference {
			ref := bound("String", gqlgen, "MarshalString")
			ref.IsContext = true
			return ref
		}(), false},
		{"Time", bound("Time", gqlgen, "MarshalTime"), false},
		{"Cursor, a marshaller itself", &config.TypeReference{
			Definition: &ast.Definition{Kind: ast.Scalar, Name: "Cursor"}, GQL: ast.NonNullNamedType("Cursor", nil),
			GO: types.NewPointer(cursor), IsMarshaler: true,
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &codegen.Field{
				FieldDefinition: &ast.FieldDefinition{Name: "title"}, TypeReference: tc.ref,
				GoFieldType: codegen.GoFieldVariable, GoReceiverName: "obj", GoFieldName: "Title",
			}
			require.Equal(t, tc.inPlace, inPlace(f), "inPlace of a field whose marshaller is %q", marshaller(tc.ref))
		})
	}
}
