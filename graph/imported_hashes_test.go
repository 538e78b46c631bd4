package graph_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"bitgate/ent/user"
	"bitgate/internal/apitest"
)

// importUser stores a user with a password hash made elsewhere, as an
// operator's import would, bypassing the API.
func importUser(t *testing.T, c *apitest.Client, email, hash string) {
	t.Helper()
	_, err := c.DB.User.Create().
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
	s := apitest.New(t)
	const password = "imported password"
	salt := make([]byte, 16)
	_, err := rand.Read(salt)
	require.NoError(t, err)
	b64 := base64.RawStdEncoding
	hash := fmt.Sprintf("$argon2id$v=19$m=19456,t=14,p=1$%s$%s",
		b64.EncodeToString(salt), b64.EncodeToString(argon2.IDKey([]byte(password), salt, 14, 19456, 1, 32)))
	importUser(t, s, "costly@example.com", hash)
	normal := s.SignUp(t)

	wrong := s.Do(t, "", apitest.OpSignIn, apitest.Credentials(normal.User.Email, "not the password"))
	require.Equal(t, "UNAUTHENTICATED", wrong.Code(), "%s", wrong.Body)
	r := s.Do(t, "", apitest.OpSignIn, apitest.Credentials("costly@example.com", password))
	require.Equal(t, "UNAUTHENTICATED", r.Code(), "signed in with an out-of-bounds hash: %s", r.Body)
	require.Equal(t, wrong.Errors, r.Errors, "the refusal differs from a wrong password's")

	u, err := s.DB.User.Query().Where(user.Email("costly@example.com")).Only(context.Background())
	require.NoError(t, err)
	require.Equal(t, hash, u.PasswordHash, "the refused hash was replaced")
}

// TestImportedBcryptLongPassword: another system hashed a 97-byte password
// with bcrypt, which kept only its first 72 bytes. Neither that password
// nor a variant sharing the 72 bytes signs in, and nothing is rehashed;
// the 72 bytes themselves (all the hash holds) do, and are then rehashed.
// Before, any variant signed in and the upgrade stored argon2id of it, so
// that the real password stopped working.
func TestImportedBcryptLongPassword(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	real := strings.Repeat("long pass phrase ", 5) + "and its tail" // 97 bytes
	first72 := real[:72]
	hash, err := bcrypt.GenerateFromPassword([]byte(first72), bcrypt.MinCost)
	require.NoError(t, err)
	importUser(t, s, "long@example.com", string(hash))
	stored := func() string {
		u, err := s.DB.User.Query().Where(user.Email("long@example.com")).Only(ctx)
		require.NoError(t, err)
		return u.PasswordHash
	}

	for _, password := range []string{real, first72 + "a variant", first72 + " "} {
		r := s.Do(t, "", apitest.OpSignIn, apitest.Credentials("long@example.com", password))
		require.Equal(t, "UNAUTHENTICATED", r.Code(), "%d-byte password signed in: %s", len(password), r.Body)
		require.Equal(t, string(hash), stored(), "a refused password was rehashed")
	}
	s.SignIn(t, "long@example.com", first72)
	require.True(t, strings.HasPrefix(stored(), "$argon2id$"), "not rehashed after signing in with the 72 bytes")
	s.SignIn(t, "long@example.com", first72)
	r := s.Do(t, "", apitest.OpSignIn, apitest.Credentials("long@example.com", first72+"a variant"))
	require.Equal(t, "UNAUTHENTICATED", r.Code(), "a variant signed in after the rehash: %s", r.Body)
}
