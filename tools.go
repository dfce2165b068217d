//go:build tools

// Package tools pins the code generators that go generate runs, so their
// versions live in go.mod with the rest of the dependencies.
package tools

import (
	_ "github.com/99designs/gqlgen"
)
