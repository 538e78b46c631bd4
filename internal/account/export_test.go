package account

import (
	"context"
	"testing"

	"bitgate/ent"
)

// SetSigninPause makes fn run at the pause points of every sign-in (see
// signinPause) until the test ends. A test that sets it must not run in
// parallel with others.
func SetSigninPause(t testing.TB, fn func(ctx context.Context, u *ent.User, at string)) {
	old := signinPause
	signinPause = fn
	t.Cleanup(func() { signinPause = old })
}
