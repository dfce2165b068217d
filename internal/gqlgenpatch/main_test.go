package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = `package graph

func (ec *executionContext) marshalNPlain2ᚕ(ctx context.Context, v []*Plain) graphql.Marshaler {
	return graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Plain(ctx, v[i])
	})
}

func (ec *executionContext) _Plain(ctx context.Context, obj *Plain) graphql.Marshaler {
	ec.ProcessDeferredGroup(deferred)
	return ec._Leaf(ctx, obj)
}

func (ec *executionContext) _Leaf(ctx context.Context, obj *Plain) graphql.Marshaler {
	return nil
}

func (ec *executionContext) marshalNResolved2ᚕ(ctx context.Context, v []*Resolved) graphql.Marshaler {
	return graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Wrapper(ctx, v[i])
	})
}

func (ec *executionContext) _Wrapper(ctx context.Context, obj *Resolved) graphql.Marshaler {
	return ec._Resolved(ctx, obj)
}

func (ec *executionContext) _Resolved(ctx context.Context, obj *Resolved) graphql.Marshaler {
	out.ResolveConcurrently(ec.OperationContext, &deferred, i, nil)
	return ec._Wrapper(ctx, obj)
}

func (ec *executionContext) marshalNUnknown2ᚕ(ctx context.Context, v []*Unknown) graphql.Marshaler {
	return graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec.somethingElsewhere(ctx, v[i])
	})
}
`

func TestRewriteOnlyListsWithoutConcurrency(t *testing.T) {
	t.Parallel()

	out, count, err := rewrite([]byte(sample))
	require.NoError(t, err)
	require.Equal(t, 1, count)

	text := string(out)
	plain := text[strings.Index(text, "marshalNPlain2ᚕ"):strings.Index(text, "func (ec *executionContext) _Plain")]
	require.Contains(t, plain, "marshalSliceSequentially(ctx, len(v), 0, false,")
	require.Equal(t, 2, strings.Count(text, "graphql.MarshalSliceConcurrently("),
		"the list reaching ResolveConcurrently through a cycle and the one calling an unknown method keep their goroutines")
}

func TestGeneratedExecutorIsPatched(t *testing.T) {
	t.Parallel()

	src, err := os.ReadFile("../../graph/generated.go")
	require.NoError(t, err)

	_, count, err := rewrite(src)
	require.NoError(t, err)
	require.Zero(t, count, "run `go generate ./graph/` to patch graph/generated.go")
	require.Contains(t, string(src), "marshalSliceSequentially(")
}
