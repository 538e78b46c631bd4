package graph

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// variableKinds is a gqlgen extension that refuses a variable whose JSON
// value is of a kind the GraphQL spec's input coercion refuses for its
// type: Int takes a whole number only, Float a number, String a string,
// Boolean a boolean, ID a string or a whole number, an enum the name of
// one of its values as spelled, and the same holds inside lists and input
// objects. gqlparser, which coerces the variables before (see
// validator.VariableValues), also takes a string that spells a number for
// Int and Float, any JSON number for String (as a json.Number, whose kind
// is string) and ID, and an enum value in any case; gqlgen's scalars then
// read them. Custom scalars are left to their own unmarshalers.
//
// A refused variable is a request error, GRAPHQL_VALIDATION_FAILED, as
// any other variable of the wrong type.
type variableKinds struct {
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = variableKinds{}

// ExtensionName names the extension.
func (variableKinds) ExtensionName() string { return "VariableKinds" }

// Validate accepts any schema.
func (variableKinds) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext checks the operation's variables as gqlparser
// coerced them.
func (v variableKinds) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	for _, def := range opCtx.Operation.VariableDefinitions {
		value, ok := opCtx.Variables[def.Variable]
		if !ok {
			continue
		}
		if where, why := v.check(def.Type, value); why != "" {
			err := gqlerror.ErrorPathf(append(ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}, where...), "%s", why)
			errcode.Set(err, errcode.ValidationFailed)
			return err
		}
	}
	return nil
}

// check returns why value, or a value in it (where), is of a kind typ
// does not take, or "" if none is. It allocates nothing until it finds
// one.
func (v variableKinds) check(typ *ast.Type, value any) (where ast.Path, why string) {
	if value == nil {
		return nil, "" // gqlparser refused null where typ does not take it
	}
	if typ.Elem != nil {
		// A list as decoded ([]any), or one value that gqlparser made a
		// list of one of its own type ([]string, say).
		list := reflect.ValueOf(value)
		if list.Kind() != reflect.Slice {
			return v.check(typ.Elem, value)
		}
		for i := range list.Len() {
			if where, why := v.check(typ.Elem, list.Index(i).Interface()); why != "" {
				return append(ast.Path{ast.PathIndex(i)}, where...), why
			}
		}
		return nil, ""
	}
	def := v.schema.Types[typ.NamedType]
	if def == nil {
		return nil, ""
	}
	switch def.Kind {
	case ast.Scalar:
		if !scalarTakes(def.Name, value) {
			return nil, "cannot use a JSON " + jsonKind(value) + " as " + def.Name
		}
	case ast.Enum:
		if s, ok := value.(string); !ok || def.EnumValues.ForName(s) == nil {
			return nil, "must be a value of " + def.Name + ", spelled as in the schema"
		}
	case ast.InputObject:
		fields, ok := value.(map[string]any)
		if !ok {
			return nil, "" // gqlparser refused it
		}
		for _, f := range def.Fields {
			if fv, ok := fields[f.Name]; ok {
				if where, why := v.check(f.Type, fv); why != "" {
					return append(ast.Path{ast.PathName(f.Name)}, where...), why
				}
			}
		}
	}
	return nil, ""
}

// scalarTakes reports whether the built-in scalar name takes value, a
// variable's JSON value as gqlparser coerced it (a whole number of an Int
// at the top is an int64 there, a number of a Float a float64, other
// numbers json.Number). Custom scalars take anything here.
func scalarTakes(name string, value any) bool {
	switch name {
	case "Int":
		return isWholeNumber(value)
	case "Float":
		switch value.(type) {
		case json.Number, float64, int64, int:
			return true
		}
		return false
	case "String":
		_, ok := value.(string)
		return ok
	case "Boolean":
		_, ok := value.(bool)
		return ok
	case "ID":
		_, ok := value.(string)
		return ok || isWholeNumber(value)
	}
	return true
}

// isWholeNumber reports whether value is a JSON number without a
// fractional part that fits an int64.
func isWholeNumber(value any) bool {
	switch n := value.(type) {
	case int64, int:
		return true
	case json.Number:
		_, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil
	case float64:
		return n == math.Trunc(n) && math.Abs(n) <= 1<<53
	}
	return false
}

// jsonKind names the kind of a JSON value.
func jsonKind(value any) string {
	switch value.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "number"
}
