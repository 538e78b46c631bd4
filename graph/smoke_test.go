package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

func TestSignupThenMe(t *testing.T) {
	s := apitest.New(t, apitest.Options{})
	p := s.Signup(t, "  Ada@Example.COM ")
	require.Equal(t, "ada@example.com", p.User.Email)
	require.Equal(t, "Bearer", p.TokenType)
	require.Equal(t, 900, p.ExpiresIn)
	require.Equal(t, []string{"FREE"}, p.User.Permissions)

	var out struct{ Me apitest.User }
	s.Query(t, p.AccessToken, `{ me { id email permissionLevel } }`, nil).Decode(t, &out)
	require.Equal(t, p.User.ID, out.Me.ID)
}
