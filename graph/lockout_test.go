package graph_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/apitest"
)

// TestLockoutHoldsUnderConcurrentGuesses sends 20 wrong passwords for one
// email at once: attempts are counted before the password is checked, so
// at most 5 are checked (UNAUTHENTICATED), the rest are RATE_LIMITED, and
// the right password is refused afterwards.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	s.Signup(t, "target@example.com")

	const n = 20
	results, errs := apitest.Concurrently(n, func(i int) (*apitest.Response, error) {
		return s.Post("", authSigninMut, map[string]any{"e": "target@example.com", "p": "wrong guess " + string(rune('a'+i))})
	})
	count := map[string]int{}
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		r.Check(t)
		count[r.Code()]++
	}
	require.LessOrEqual(t, count["UNAUTHENTICATED"], 5, "passwords checked: %v", count)
	require.Equal(t, n, count["UNAUTHENTICATED"]+count["RATE_LIMITED"], "answers: %v", count)

	r := authSignin(t, s, "target@example.com", apitest.Password)
	require.Equal(t, "RATE_LIMITED", r.Code(), "right password while locked: %s", r.Body)
}

// TestUnknownEmailCostsAHash checks that a sign-in for an unknown email is
// not answered faster than a hash could run (argon2id with m=19 MiB, t=2
// takes well over 5 ms on any CPU), so timing cannot tell which emails
// exist. Only a lower bound: a slow machine cannot make it fail.
func TestUnknownEmailCostsAHash(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, apitest.Options{})
	for i := range 3 {
		start := time.Now()
		r := authSignin(t, s, "nobody"+string(rune('a'+i))+"@example.com", "some password")
		took := time.Since(start)
		require.Equal(t, "UNAUTHENTICATED", r.Code(), "%s", r.Body)
		require.GreaterOrEqual(t, took, 5*time.Millisecond, "an unknown email was refused in %v: no hash was spent", took)
	}
}
