package auth_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"bitgate/auth"
	"bitgate/auth/authtest"
)

func FuzzParse(f *testing.F) {
	tok := auth.NewTokens(forger.Key, forger.Issuer, forger.Audience, 100*365*24*time.Hour, nil)
	valid, err := tok.Issue(uuid.New(), uuid.New(), 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(authtest.Unsigned(f, "none", validClaims()))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tok.Parse(s)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse(%q) = %+v, %v; want nil claims on error", s, c, err)
			}
			return
		}
		if _, err := c.UserID(); err != nil {
			t.Fatalf("Parse(%q) succeeded but UserID() = %v", s, err)
		}
		if _, err := c.Session(); err != nil {
			t.Fatalf("Parse(%q) succeeded but Session() = %v", s, err)
		}
	})
}
