package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// TestProductionMakesNoSuggestions: in production, a misspelt field,
// argument, type, input field or missing selection is refused without
// "Did you mean …", which would map the schema that turning introspection
// off hides. Each query does draw a suggestion in development, so the
// test cannot pass for want of one.
func TestProductionMakesNoSuggestions(t *testing.T) {
	t.Parallel()
	dev := apitest.New(t)
	prod := apitest.New(t, apitest.Options{Production: true})
	for _, tc := range []struct{ name, query string }{
		{"field", `{ me { emai } }`},
		{"root field", `{ boooks { totalCount } }`},
		{"argument", `{ book(idd: "0190a0a0-0000-7000-8000-000000000000") { id } }`},
		{"directive argument", `{ me @include(iff: true) { id } }`},
		{"fragment type", `{ me { ...F } } fragment F on Usr { id }`},
		{"missing selection", `{ me }`},
		{"input field", `mutation { signup(input: {firstName: "A", lastName: "B", emial: "a@example.com", password: "long enough"}) { accessToken } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dev.Do(t, "", tc.query, nil)
			require.Contains(t, string(r.Body), "Did you mean", "development makes no suggestion for %s, so this case tests nothing", tc.query)
			r = prod.Do(t, "", tc.query, nil)
			require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code(), "%s", r.Body)
			require.NotContains(t, string(r.Body), "Did you mean", "production suggests names")
		})
	}
}
