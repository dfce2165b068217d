package server

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/meetgraph/meetgraph/apperr"
)

// listCostSchema gives list fields a cost that grows with their length:
// a field with a `first` argument costs `first` times its selection, and a
// list without one costs defaultListSize times its selection. Every field
// that a query names, aliases included, costs at least 1. The generated
// schema's own costs (1 plus the selection) apply to everything else.
type listCostSchema struct {
	graphql.ExecutableSchema
	defaultListSize int
}

func (s listCostSchema) Complexity(
	ctx context.Context, typeName, fieldName string, childComplexity int, args map[string]any,
) (int, bool) {
	if first, ok := intArgument(args["first"]); ok && first > 0 {
		return 1 + first*max(childComplexity, 1), true
	}

	if s.isList(typeName, fieldName) {
		return 1 + s.defaultListSize*max(childComplexity, 1), true
	}

	return s.ExecutableSchema.Complexity(ctx, typeName, fieldName, childComplexity, args)
}

func (s listCostSchema) isList(typeName, fieldName string) bool {
	// Introspection has its own guard (gqlparser's MaxIntrospectionDepth rule),
	// and tools such as GraphiQL must be able to load the schema.
	if strings.HasPrefix(typeName, "__") {
		return false
	}

	definition := s.Schema().Types[typeName]
	if definition == nil {
		return false
	}

	field := definition.Fields.ForName(fieldName)

	return field != nil && field.Type.Elem != nil
}

// intArgument reads an Int argument as gqlparser delivers it: int64 from a
// literal, and int, float64 or json.Number from variables.
func intArgument(value any) (int, bool) {
	switch v := value.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	case json.Number:
		n, err := v.Int64()

		return int(n), err == nil
	default:
		return 0, false
	}
}

// depthLimit rejects operations nested deeper than limit fields before any
// resolver runs. Fragments count at the depth where they are spread.
type depthLimit struct {
	limit int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string { return "DepthLimit" }

func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	operation := opCtx.Doc.Operations.ForName(opCtx.OperationName)
	if operation == nil {
		return nil
	}

	depth := selectionDepth(operation.SelectionSet, map[string]bool{})
	if depth <= d.limit {
		return nil
	}

	err := gqlerror.Errorf("operation is nested %d levels deep, more than the limit of %d", depth, d.limit)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput)}

	return err
}

// selectionDepth returns how many fields deep set reaches. visiting guards
// against fragment cycles, which validation rejects before this runs but
// which must not hang the server if validation ever lets one through.
func selectionDepth(set ast.SelectionSet, visiting map[string]bool) int {
	deepest := 0

	for _, selection := range set {
		var depth int

		switch s := selection.(type) {
		case *ast.Field:
			// Introspection is bounded by gqlparser's MaxIntrospectionDepth rule;
			// its nesting of ofType would otherwise exceed any useful limit.
			if strings.HasPrefix(s.Name, "__") {
				depth = 1
			} else {
				depth = 1 + selectionDepth(s.SelectionSet, visiting)
			}
		case *ast.InlineFragment:
			depth = selectionDepth(s.SelectionSet, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}

			visiting[s.Name] = true
			depth = selectionDepth(s.Definition.SelectionSet, visiting)
			delete(visiting, s.Name)
		}

		deepest = max(deepest, depth)
	}

	return deepest
}
