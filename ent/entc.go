//go:build ignore

package main

import (
	"fmt"
	"log"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./graph/ent.graphql"),
		entgql.WithSchemaHook(dropQuery, describe, hideGoDirectives),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Features: []gen.Feature{gen.FeatureVersionedMigration, gen.FeatureUpsert, gen.FeatureExecQuery},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// dropQuery drops entgql's Query type: it is written by hand in
// schema.graphql, so that every root field carries its permission rule.
// entgql's holds node and nodes, resolved by ent's Noder, which reads any
// row of any table; schema.graphql declares them too, resolved through the
// services' rules (graph/node.go). OrderDirection goes too: no list takes
// an orderBy.
func dropQuery(_ *gen.Graph, s *ast.Schema) error {
	delete(s.Types, "Query")
	delete(s.Types, "OrderDirection")
	return nil
}

// describe gives every generated element a description, which clients and
// code generators read through introspection: an object type takes its
// ent schema's schema.Comment annotation, a clear… input field says what it
// clears, and Cursor says its format. Field descriptions come from the ent
// fields' and edges' Comment. It fails on a type left without one.
func describe(g *gen.Graph, s *ast.Schema) error {
	for _, n := range g.Nodes {
		def := s.Types[n.Name]
		if def == nil {
			continue // not in GraphQL (entgql.Skip)
		}
		c, _ := n.Annotations["Comment"].(map[string]any)
		text, _ := c["Text"].(string)
		if text == "" {
			return fmt.Errorf("ent schema %s has no schema.Comment annotation to describe its GraphQL type", n.Name)
		}
		def.Description = text
	}
	for _, def := range s.Types {
		for _, f := range def.Fields {
			if name, ok := strings.CutPrefix(f.Name, "clear"); ok && def.Kind == ast.InputObject && f.Description == "" {
				f.Description = fmt.Sprintf("True sets %s%s to null.", strings.ToLower(name[:1]), name[1:])
			}
		}
	}
	s.Types["Cursor"].Description = "An opaque string that marks a place in a list: pass an edge's cursor, or " +
		"pageInfo's endCursor or startCursor, back as after or before. Its content may change; never parse it."
	return nil
}

// hideGoDirectives drops gqlgen's @goModel and @goField, which entgql
// declares for gqlgen's code generator, from the schema clients see
// through introspection: from the Node interface (gqlgen.yml binds it),
// and their declarations when nothing else uses them.
func hideGoDirectives(_ *gen.Graph, s *ast.Schema) error {
	node := s.Types["Node"]
	node.Directives = slicesDeleteDirective(node.Directives, "goModel")
	for _, name := range []string{"goModel", "goField"} {
		if !usesDirective(s, name) {
			delete(s.Directives, name)
		}
	}
	return nil
}

// slicesDeleteDirective returns list without the directives named name.
func slicesDeleteDirective(list ast.DirectiveList, name string) ast.DirectiveList {
	var out ast.DirectiveList
	for _, d := range list {
		if d.Name != name {
			out = append(out, d)
		}
	}
	return out
}

// usesDirective reports whether a type or a field of s carries the
// directive name.
func usesDirective(s *ast.Schema, name string) bool {
	for _, def := range s.Types {
		if def.Directives.ForName(name) != nil {
			return true
		}
		for _, f := range def.Fields {
			if f.Directives.ForName(name) != nil {
				return true
			}
		}
	}
	return false
}
