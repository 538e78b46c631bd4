package auth

import (
	"sync"
	"time"
)

// maxVerified bounds the tokens a Tokens remembers as verified: a few MB
// at most, and more than the callers active within a token's lifetime on
// one instance of a small deployment.
const maxVerified = 10_000

// verifiedTokens remembers access tokens that passed every check of Parse,
// by their exact text, so that a client's next requests with the same
// token skip decoding it and checking its signature: the same bytes carry
// the same signature, header and claims. What can change is checked again
// on every use (see fresh): the time (exp, iat, nbf) and whether the
// signing key still verifies. Session revocation is not a token's business
// (account.Authenticate checks the database on every request).
type verifiedTokens struct {
	mu     sync.RWMutex
	tokens map[string]*verifiedToken
}

// verifiedToken is a token that passed Parse: its claims and its key's id.
type verifiedToken struct {
	claims Claims
	kid    string
}

// get returns the verified token of text, if remembered.
func (v *verifiedTokens) get(text string) (*verifiedToken, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t, ok := v.tokens[text]
	return t, ok
}

// put remembers a token that passed Parse. When the map is full it drops
// the expired tokens, and all of them unless that freed a quarter: a sweep
// that freed a few would run again at the next put, under the lock every
// request's get waits for.
func (v *verifiedTokens) put(text string, t *verifiedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tokens == nil {
		v.tokens = map[string]*verifiedToken{}
	}
	if len(v.tokens) >= maxVerified {
		for k, old := range v.tokens {
			if !old.timely(now) {
				delete(v.tokens, k)
			}
		}
		if len(v.tokens) > maxVerified*3/4 {
			clear(v.tokens)
		}
	}
	v.tokens[text] = t
}

// forget drops a token that no longer passes.
func (v *verifiedTokens) forget(text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.tokens, text)
}

// timely reports whether the token's time claims hold at now, with
// Leeway, as the jwt parser checks them: exp required and not past, iat
// and nbf (when set) not in the future.
func (t *verifiedToken) timely(now time.Time) bool {
	c := &t.claims
	return c.ExpiresAt != nil && now.Before(c.ExpiresAt.Add(Leeway)) &&
		(c.IssuedAt == nil || !now.Before(c.IssuedAt.Add(-Leeway))) &&
		(c.NotBefore == nil || !now.Before(c.NotBefore.Add(-Leeway)))
}
