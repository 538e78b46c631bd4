package graph_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// introspected is the part of __schema a documentation reader sees.
type introspected struct {
	Types []struct {
		Kind, Name     string
		Description    *string
		SpecifiedByURL *string
		Fields         []describedField
		InputFields    []describedValue
		EnumValues     []describedValue
	}
	Directives []struct {
		Name        string
		Description *string
		Args        []describedValue
	}
}

type describedValue struct {
	Name        string
	Description *string
}

type describedField struct {
	Name        string
	Description *string
	Args        []describedValue
}

const introspectDocs = `{ __schema {
  types {
    kind name description specifiedByURL
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description }
  }
  directives { name description args { name description } }
} }`

// TestSchemaIsDocumented walks the schema as a client introspects it and
// fails on every type, field, argument, input field, enum value and
// directive without a description, on a root field whose description does
// not say who may call it, and on gqlgen's own directives showing.
func TestSchemaIsDocumented(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	s := apitest.Data[introspected](t, c.Do(t, "", introspectDocs, nil), "__schema")

	var missing []string
	need := func(what string, d *string) {
		if d == nil || strings.TrimSpace(*d) == "" {
			missing = append(missing, what)
		}
	}
	scalars := map[string]*string{}
	for _, typ := range s.Types {
		if strings.HasPrefix(typ.Name, "__") {
			continue // GraphQL's own introspection types
		}
		need(typ.Name, typ.Description)
		if typ.Kind == "SCALAR" {
			scalars[typ.Name] = typ.SpecifiedByURL
		}
		for _, f := range typ.Fields {
			need(typ.Name+"."+f.Name, f.Description)
			for _, a := range f.Args {
				need(typ.Name+"."+f.Name+"("+a.Name+")", a.Description)
			}
			if (typ.Name == "Query" || typ.Name == "Mutation") && f.Description != nil {
				require.Contains(t, *f.Description, "Who may call:", "%s.%s does not say who may call it", typ.Name, f.Name)
			}
		}
		for _, f := range typ.InputFields {
			need(typ.Name+"."+f.Name, f.Description)
		}
		for _, v := range typ.EnumValues {
			need(typ.Name+"."+v.Name, v.Description)
		}
	}
	for _, d := range s.Directives {
		require.False(t, strings.HasPrefix(d.Name, "go"), "gqlgen's @%s shows in introspection", d.Name)
		need("@"+d.Name, d.Description)
		for _, a := range d.Args {
			need("@"+d.Name+"("+a.Name+")", a.Description)
		}
	}
	require.Empty(t, missing, "elements without a description")

	require.NotNil(t, scalars["Time"], "Time has no @specifiedBy")
	require.Equal(t, "https://datatracker.ietf.org/doc/html/rfc3339", *scalars["Time"])
	require.Contains(t, scalars, "Cursor")
	require.NotNil(t, scalars["JSON"], "JSON has no @specifiedBy")
	for name := range scalars {
		require.Contains(t, []string{"String", "Int", "Float", "Boolean", "ID", "Time", "Cursor", "JSON"}, name,
			"a new scalar: give it @specifiedBy or say its format, and add it here")
	}
}
