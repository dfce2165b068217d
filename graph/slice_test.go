package graph

import (
	"bytes"
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

func TestMarshalSliceSequentiallyRecoversPanics(t *testing.T) {
	t.Parallel()

	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{}})

	var indexes []int

	ret := marshalSliceSequentially(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		indexes = append(indexes, *graphql.GetFieldContext(ctx).Index)
		if i == 1 {
			panic("element broke")
		}

		return graphql.MarshalInt(i)
	})

	require.Equal(t, []int{0, 1, 2}, indexes)
	require.Len(t, ret, 3)

	var out bytes.Buffer

	ret.MarshalGQL(&out)
	require.JSONEq(t, `[0, null, 2]`, out.String())

	errs := graphql.GetErrors(ctx)
	require.Len(t, errs, 1)
	require.Equal(t, []any{1}, pathElements(errs[0].Path))
}

func pathElements(path ast.Path) []any {
	elements := make([]any, len(path))
	for i, element := range path {
		switch element := element.(type) {
		case ast.PathIndex:
			elements[i] = int(element)
		case ast.PathName:
			elements[i] = string(element)
		}
	}

	return elements
}
