package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/resolvers"
	"github.com/meetgraph/meetgraph/store"
	"github.com/meetgraph/meetgraph/tracing"
)

func TestTracingCoversRequestToSQL(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	provider := tracing.SetupForTest(exporter, "meetgraph-test")
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	pool := testenv.Pool(t, func(config *store.PoolConfig) { config.Tracer = tracing.QueryTracer{} })
	db := store.New(pool)
	_, err := db.Seed(context.Background())
	require.NoError(t, err)

	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("k", 32))})
	require.NoError(t, err)

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: db, Logger: logger}})
	handler := NewHandler(Config{Tracing: true}, Deps{Logger: logger, Schema: schema, Tokens: tokens})

	token, err := tokens.Sign(store.SeedID("user:alice"), time.Minute)
	require.NoError(t, err)

	exporter.Reset()

	request := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"query Me { me { name } }"}`))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Authorization", "Bearer "+token)

	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)
	require.Equal(t, http.StatusOK, recorder.Code, recorder.Body.String())

	spans := map[string]tracetest.SpanStub{}
	for _, span := range exporter.GetSpans() {
		spans[span.Name] = span
	}

	for _, name := range []string{"POST /query", "graphql.query Me", "resolve Query.me", "db.query"} {
		require.Contains(t, spans, name)
	}

	traceID := spans["POST /query"].SpanContext.TraceID()
	for name, span := range spans {
		require.Equal(t, traceID, span.SpanContext.TraceID(), "span %s belongs to the request's trace", name)
	}

	require.Equal(t, spans["resolve Query.me"].SpanContext.SpanID(), spans["db.query"].Parent.SpanID(),
		"the SQL statement is a child of the resolver that ran it")
}
