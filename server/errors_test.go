package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/resolvers"
)

// syncBuffer is a bytes.Buffer that the handler's goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

func TestPanicBecomesInternalWithRequestID(t *testing.T) {
	t.Parallel()

	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("k", 32))})
	require.NoError(t, err)

	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	// A resolver without its store dereferences nil: a stand-in for any bug.
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Logger: logger}})
	handler := NewHandler(Config{}, Deps{Logger: logger, Schema: schema, Tokens: tokens})

	token, err := tokens.Sign(uuid.New(), time.Minute)
	require.NoError(t, err)

	request := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ me { id } }"}`))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Authorization", "Bearer "+token)

	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)

	var response struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(recorder.Body.Bytes(), &response))
	require.Len(t, response.Errors, 1)

	requestID := recorder.Header().Get("X-Request-ID")
	require.NotEmpty(t, requestID)
	require.Equal(t, "INTERNAL", response.Errors[0].Extensions["code"])
	require.Equal(t, requestID, response.Errors[0].Extensions["requestId"])
	require.Equal(t, "internal error", response.Errors[0].Message)
	require.NotContains(t, recorder.Body.String(), "nil pointer", "no internal detail reaches the client")

	require.Contains(t, logs.String(), `"request_id":"`+requestID+`"`)
	require.Contains(t, logs.String(), "nil pointer dereference", "the log keeps the cause")
}

func TestCancelledRequestIsNotLoggedAsError(t *testing.T) {
	t.Parallel()

	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	presented := presentError(logger)(ctx, fmt.Errorf("load 1 tasks: %w", context.Canceled))

	require.Equal(t, "request cancelled", presented.Message)
	require.Equal(t, "UNAVAILABLE", presented.Extensions["code"])
	require.Contains(t, logs.String(), `"level":"INFO"`)
	require.NotContains(t, logs.String(), `"level":"ERROR"`)

	// The same error while the request still runs is a real failure.
	var running syncBuffer

	failed := presentError(slog.New(slog.NewJSONHandler(&running, nil)))(context.Background(),
		fmt.Errorf("load 1 tasks: %w", context.Canceled))
	require.Equal(t, "INTERNAL", failed.Extensions["code"])
	require.Contains(t, running.String(), `"level":"ERROR"`)
}
