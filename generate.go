package main

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod ./graph/gen/main.go
//go:generate go tool genqlient internal/apiclient/genqlient.yaml
