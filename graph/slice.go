package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSliceSequentially is graphql.MarshalSliceConcurrently without the
// goroutine per element, for lists whose elements resolve no field
// concurrently. internal/gqlgenpatch puts it into generated.go. Each
// element gets its own field context with its index, and a panic while
// marshalling an element becomes an error and a null element, as in
// gqlgen's version. workerLimit has no use in a loop.
func marshalSliceSequentially(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)

	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})

		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)

			continue
		}

		ret[i] = marshalRecovering(childCtx, i, marshalElement)
	}

	return ret
}

func marshalRecovering(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (result graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))

			result = graphql.Null
		}
	}()

	return marshalElement(ctx, i)
}
