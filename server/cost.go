package server

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
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

	// A Relay connection's edges are bounded by the first argument of the
	// field that returned the connection, which is already counted.
	if strings.HasSuffix(typeName, "Connection") {
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

// shapeLimit rejects, before any resolver runs, operations nested deeper
// than maxDepth fields and operations with more than maxAliases aliased
// fields, a common way to multiply one expensive field. Fragments count at
// the depth where they are spread.
type shapeLimit struct {
	maxDepth   int
	maxAliases int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

func (shapeLimit) ExtensionName() string { return "ShapeLimit" }

func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l shapeLimit) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	operation := opCtx.Doc.Operations.ForName(opCtx.OperationName)
	if operation == nil {
		return nil
	}

	depth, aliases := 0, 0

	visitFields(operation.SelectionSet, 1, map[string]bool{}, func(field *ast.Field, fieldDepth int) bool {
		depth = max(depth, fieldDepth)

		if field.Alias != "" && field.Alias != field.Name {
			aliases++
		}

		// Introspection is bounded by gqlparser's MaxIntrospectionDepth rule;
		// its nesting of ofType would otherwise exceed any useful limit.
		return !strings.HasPrefix(field.Name, "__")
	})

	var err *gqlerror.Error

	// gqlparser v2.5.64's rule for one root field per subscription misses
	// an anonymous operation that aliases the same field twice, and gqlgen
	// then fails it as an internal error.
	if operation.Operation == ast.Subscription {
		if fields := graphql.CollectFields(opCtx, operation.SelectionSet, []string{"Subscription"}); len(fields) != 1 {
			err = gqlerror.Errorf("a subscription operation must select exactly one root field, not %d: "+
				"send each subscription as its own operation", len(fields))
			err.Extensions = map[string]any{"code": errcode.ValidationFailed}

			return err
		}
	}

	switch {
	case depth > l.maxDepth:
		err = gqlerror.Errorf("operation is nested %d levels deep, more than the limit of %d", depth, l.maxDepth)
	case aliases > l.maxAliases:
		err = gqlerror.Errorf("operation has %d aliased fields, more than the limit of %d", aliases, l.maxAliases)
	default:
		return nil
	}

	err.Extensions = map[string]any{"code": string(apperr.BadUserInput)}

	return err
}

// visitFields calls visit for each field of set, with depth 1 for set's own
// fields, and descends into a field's selection while visit returns true.
// Fragment spreads count at the depth where they are spread. The visiting
// map guards against fragment cycles: validation rejects them before
// extensions run, but one that got through must not hang the server.
func visitFields(set ast.SelectionSet, depth int, visiting map[string]bool, visit func(*ast.Field, int) bool) {
	for _, selection := range set {
		switch s := selection.(type) {
		case *ast.Field:
			if visit(s, depth) {
				visitFields(s.SelectionSet, depth+1, visiting, visit)
			}
		case *ast.InlineFragment:
			visitFields(s.SelectionSet, depth, visiting, visit)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}

			visiting[s.Name] = true
			visitFields(s.Definition.SelectionSet, depth, visiting, visit)
			delete(visiting, s.Name)
		}
	}
}

// introspectionGuard rejects operations that ask for __schema or __type when
// introspection is off. gqlgen's own check fails such a field with an error
// that has no code, which clients would see as INTERNAL.
type introspectionGuard struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = introspectionGuard{}

func (introspectionGuard) ExtensionName() string { return "IntrospectionGuard" }

func (introspectionGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionGuard) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	operation := opCtx.Doc.Operations.ForName(opCtx.OperationName)
	if operation == nil || !asksForSchema(operation.SelectionSet) {
		return nil
	}

	err := gqlerror.Errorf("introspection is disabled on this server; start it with --introspection to allow it")
	err.Extensions = map[string]any{"code": string(apperr.Forbidden)}

	return err
}

func asksForSchema(set ast.SelectionSet) bool {
	found := false

	visitFields(set, 1, map[string]bool{}, func(field *ast.Field, _ int) bool {
		if field.Name == "__schema" || field.Name == "__type" {
			found = true
		}

		return !found
	})

	return found
}
