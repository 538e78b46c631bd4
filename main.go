// Command bitgate is a GraphQL API server with sign-up, sign-in, rotating
// refresh tokens and bitmask permissions built in.
//
// Usage:
//
//	bitgate [serve] [flags]                serve (the default)
//	bitgate create-admin -email E [flags]  create or promote an ADMIN
//	bitgate hash-password < password       hash a password read on stdin
//	bitgate check-hash < hashes            check password hashes to import
//	bitgate keys list|rotate [flags]       list or rotate the EdDSA signing keys
//	bitgate mail test -to ADDRESS [flags]  send a test mail
//	bitgate version                        print the build's versions
//	bitgate help [command]                 print help
package main

import "os"

func main() {
	os.Exit(exitStatus(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr), os.Stderr))
}
