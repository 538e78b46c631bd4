package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"bitgate/internal/auth"
)

func FuzzParse(f *testing.F) {
	keys, err := auth.NewHMACKeys(forger.Key, auth.HMACOptions{})
	if err != nil {
		f.Fatal(err)
	}
	tok := auth.NewTokens(keys, forger.Issuer, forger.Audience, 100*365*24*time.Hour, nil)
	valid, err := tok.Issue(context.Background(), uuid.New(), uuid.New(), 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(forger.Unsigned(f, "none", validClaims()))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tok.Parse(context.Background(), s)
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
