package httpapi

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
