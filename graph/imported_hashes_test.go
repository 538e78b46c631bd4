package graph_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"bitgate/ent/user"
	"bitgate/internal/apitest"
)

// importedSignin is the sign-in of the imported-hash tests.
const importedSignin = `mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { accessToken } }`

// importUser stores a user with a password hash made elsewhere, as an
// operator's import would, bypassing the API.
func importUser(t *testing.T, s *apitest.Server, email, hash string) {
	t.Helper()
	_, err := s.Client.User.Create().
		SetFirstName("Imported").SetLastName("User").SetEmail(email).
		SetPasswordHash(hash).SetPermissionLevel(1).
		Save(context.Background())
	require.NoError(t, err, "import %s", email)
}

// TestImportedHashOutOfBounds: a stored argon2id hash costlier than the
// bounds (here 19 MiB × 14 passes, seven times the server's own) does not
// sign in even with the right password; the answer is a wrong password's,
// and the hash stays as it was. Before, bounds of 2 GiB and 16 passes let
// one such hash cost a sign-in 9 s and 2 GB.
func TestImportedHashOutOfBounds(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	const password = "imported password"
	salt := make([]byte, 16)
	_, err := rand.Read(salt)
	require.NoError(t, err)
	b64 := base64.RawStdEncoding
	hash := fmt.Sprintf("$argon2id$v=19$m=19456,t=14,p=1$%s$%s",
		b64.EncodeToString(salt), b64.EncodeToString(argon2.IDKey([]byte(password), salt, 14, 19456, 1, 32)))
	importUser(t, s, "costly@example.com", hash)
	s.Signup(t, "normal@example.com")

	wrong := s.Query(t, "", importedSignin, map[string]any{"e": "normal@example.com", "p": "not the password"})
	require.Equal(t, "UNAUTHENTICATED", wrong.Code(), "%s", wrong.Body)
	r := s.Query(t, "", importedSignin, map[string]any{"e": "costly@example.com", "p": password})
	require.Equal(t, "UNAUTHENTICATED", r.Code(), "signed in with an out-of-bounds hash: %s", r.Body)
	require.Equal(t, wrong.Errors, r.Errors, "the refusal differs from a wrong password's")

	u, err := s.Client.User.Query().Where(user.Email("costly@example.com")).Only(context.Background())
	require.NoError(t, err)
	require.Equal(t, hash, u.PasswordHash, "the refused hash was replaced")
}
