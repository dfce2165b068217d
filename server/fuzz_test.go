package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/resolvers"
)

// FuzzGraphQLHandler sends random bodies, queries and variables through the
// whole HTTP stack without a token, so no resolver reaches the database.
// Every answer must be a well-formed GraphQL response with a 2xx or 4xx
// status. Run with: go test -fuzz FuzzGraphQLHandler ./server/
func FuzzGraphQLHandler(f *testing.F) {
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("k", 32))})
	require.NoError(f, err)

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Logger: logger}})
	handler := NewHandler(Config{Introspection: true}, Deps{Logger: logger, Schema: schema, Tokens: tokens})

	f.Add(uint8(0), []byte(`{"query":"{ me { id name } }"}`))
	f.Add(uint8(0), []byte(`{"query":"query($id: ID!) { meeting(id: $id) { id } }","variables":{"id":"x"}}`))
	f.Add(uint8(0), []byte(`{"query":"query($id: ID!) { meeting(id: $id) { id } }","variables":{"id":[1,{}]}}`))
	f.Add(uint8(0), []byte(`{"query":"{ __schema { types { name } } }","operationName":7}`))
	f.Add(uint8(0), []byte(`[{"query":"{ me { id } }"}]`))
	f.Add(uint8(1), []byte(`query=%7B%20me%20%7B%20id%20%7D%20%7D`))
	f.Add(uint8(1), []byte(`query=mutation%20%7B%20x%20%7D`))
	f.Add(uint8(2), []byte(`{ me { id } }`))
	f.Add(uint8(0), []byte(`{"query":"{ a: me { id } b: me { id } ...on Query { me { name } } }"}`))
	f.Add(uint8(0), []byte(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`))

	f.Fuzz(func(t *testing.T, mode uint8, payload []byte) {
		request := fuzzRequest(mode, payload)
		recorder := httptest.NewRecorder()

		handler.ServeHTTP(recorder, request)

		status := recorder.Code
		if status >= 500 {
			t.Fatalf("status %d for %q: %s", status, payload, recorder.Body.String())
		}

		if status == http.StatusNoContent || request.Method == http.MethodOptions {
			return
		}

		body := bytes.TrimSpace(recorder.Body.Bytes())
		if len(body) > 0 && body[0] == '[' {
			var batch []json.RawMessage
			if err := json.Unmarshal(body, &batch); err != nil {
				t.Fatalf("status %d, batch body is not a JSON array (%v) for %q: %s", status, err, payload, body)
			}

			for _, item := range batch {
				checkGraphQLResponse(t, item, payload)
			}

			return
		}

		checkGraphQLResponse(t, body, payload)
	})
}

// checkGraphQLResponse fails the test unless body is a GraphQL response
// object with data or errors, each error with a message.
func checkGraphQLResponse(t *testing.T, body []byte, payload []byte) {
	t.Helper()

	var response struct {
		Data   json.RawMessage  `json:"data"`
		Errors []map[string]any `json:"errors"`
	}

	if err := json.Unmarshal(body, &response); err != nil {
		t.Fatalf("body is not a JSON object (%v) for %q: %s", err, payload, body)
	}

	if response.Data == nil && response.Errors == nil {
		t.Fatalf("neither data nor errors for %q: %s", payload, body)
	}

	for _, e := range response.Errors {
		if _, ok := e["message"].(string); !ok {
			t.Fatalf("error without a message for %q: %s", payload, body)
		}
	}
}

// fuzzRequest shapes payload as one of the request forms clients send:
// a JSON POST, a GET with a query string, or a POST of another type.
func fuzzRequest(mode uint8, payload []byte) *http.Request {
	switch mode % 3 {
	case 1:
		values, err := url.ParseQuery(string(payload))
		if err != nil {
			values = url.Values{"query": {string(payload)}}
		}

		request := httptest.NewRequest(http.MethodGet, "/query?"+values.Encode(), nil)
		request.Header.Set("Accept", "application/graphql-response+json")

		return request
	case 2:
		request := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(payload))
		request.Header.Set("Content-Type", "application/graphql")

		return request
	default:
		request := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(payload))
		request.Header.Set("Content-Type", "application/json")

		return request
	}
}
