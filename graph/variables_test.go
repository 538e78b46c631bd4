package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// TestVariableKinds runs variables of every built-in scalar, an enum, a
// list and an input object through gqlparser's coercion and then
// variableKinds, as a request does, on a schema with the argument types
// this server's schema lacks (Float, an enum).
func TestVariableKinds(t *testing.T) {
	t.Parallel()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		enum Color { RED GREEN }
		input In { n: Int, f: Float, c: Color, ids: [ID!] }
		scalar Time
		type Query { q(i: Int, f: Float, s: String, b: Boolean, id: ID, c: Color, in: In, ids: [ID!], t: Time): Int }`})
	doc := gqlparser.MustLoadQueryWithRules(schema, `query($i: Int, $f: Float, $s: String, $b: Boolean, $id: ID, $c: Color, $in: In, $ids: [ID!], $t: Time) {
		q(i: $i, f: $f, s: $s, b: $b, id: $id, c: $c, in: $in, ids: $ids, t: $t) }`, rules.NewDefaultRules())
	kinds := variableKinds{schema: schema}
	for _, tc := range []struct {
		vars string
		ok   bool
	}{
		{`{"i":5,"f":1.5,"s":"s","b":true,"id":"x","c":"RED","t":"2024-01-01T00:00:00Z"}`, true},
		{`{"i":-5,"f":2,"id":7,"ids":["a",1],"in":{"n":1,"f":1,"c":"GREEN","ids":"a"}}`, true},
		{`{"ids":"a"}`, true},
		{`{"t":5}`, true}, // a custom scalar reads what it takes
		{`{"i":"5"}`, false},
		{`{"i":5.5}`, false},
		{`{"i":1e3}`, false},
		{`{"f":"1.5"}`, false},
		{`{"f":true}`, false},
		{`{"s":5}`, false},
		{`{"s":false}`, false},
		{`{"b":"true"}`, false},
		{`{"b":0}`, false},
		{`{"id":1.5}`, false},
		{`{"id":true}`, false},
		{`{"c":"red"}`, false},
		{`{"c":1}`, false},
		{`{"ids":["a",1.5]}`, false},
		{`{"in":{"n":"1"}}`, false},
		{`{"in":{"f":"1"}}`, false},
		{`{"in":{"c":"Red"}}`, false},
		{`{"in":{"ids":[true]}}`, false},
	} {
		dec := json.NewDecoder(bytes.NewReader([]byte(tc.vars)))
		dec.UseNumber()
		var vars map[string]any
		if err := dec.Decode(&vars); err != nil {
			t.Fatal(err)
		}
		op := doc.Operations[0]
		coerced, err := validator.VariableValues(schema, op, vars)
		if err == nil {
			if e := kinds.MutateOperationContext(t.Context(), &graphql.OperationContext{Operation: op, Variables: coerced}); e != nil {
				err = e
			}
		}
		if got := err == nil; got != tc.ok {
			t.Errorf("variables %s: accepted %v (%v), want %v", tc.vars, got, err, tc.ok)
		}
	}
}
