package main

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen
//go:generate go tool genqlient internal/apiclient/genqlient.yaml
