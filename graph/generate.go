// Package graph holds meetgraph's GraphQL schema (schema/*.graphqls) and the
// executable schema that gqlgen generates from it.
package graph

//go:generate go run -C .. github.com/99designs/gqlgen generate
//go:generate go run -C .. ./internal/gqlgenpatch graph/generated.go
