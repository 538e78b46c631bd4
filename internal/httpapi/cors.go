package httpapi

import (
	"fmt"
	"net/url"
	"strings"
)

// corsAllowedHeaders are the request headers a page on an allowed origin may
// send: those of Apollo Client, urql, Relay and graphql-request (Accept,
// Content-Type, Authorization), Apollo Client's client awareness headers
// (apollographql-client-*, and apollographql-library-* when its enhanced
// client awareness goes by headers), the two headers Apollo's clients set
// to force a preflight (apollo-require-preflight, x-apollo-operation-name),
// and X-Request-ID, which the server echoes (and exposes).
var corsAllowedHeaders = []string{
	"Accept", "Content-Type", "Authorization", "X-Request-ID",
	"Apollographql-Client-Name", "Apollographql-Client-Version",
	"Apollographql-Library-Name", "Apollographql-Library-Version",
	"Apollo-Require-Preflight", "X-Apollo-Operation-Name",
}

// checkOrigin accepts an exact origin, scheme://host[:port], and nothing
// that the CORS library would widen: "*" or a pattern would let every
// origin (or every subdomain) call the API with a user's token.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	switch {
	case strings.Contains(o, "*"):
		return fmt.Errorf("%q: list exact origins, not patterns", o)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q is not an origin of the form https://host[:port]", o)
	}
	return nil
}
