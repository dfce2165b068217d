package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// limitedSystem is a seeded system with small limits, and alice's token.
func limitedSystem(t *testing.T, extra ...string) (*system, string) {
	t.Helper()

	s := startSystem(t, testenv.DatabaseURL(t), extra...)
	s.command(t, "seed")

	return s, strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--max-depth", "3")
	variables := map[string]any{"id": store.SeedID("meeting:planning").String()}

	allowed := testenv.PostGraphQL(t, s.baseURL+"/query", token,
		`query($id: ID!) { meeting(id: $id) { creator { name } } }`, variables)
	require.Empty(t, allowed.Errors)

	refused := testenv.PostGraphQL(t, s.baseURL+"/query", token,
		`query($id: ID!) { meeting(id: $id) { ...M } } fragment M on Meeting { creator { ... on User { name } } title }`,
		variables)
	require.Empty(t, refused.Errors, "fragments and inline fragments add no depth of their own")

	refused = testenv.PostGraphQL(t, s.baseURL+"/query", token,
		`query($id: ID!) { task(id: $id) { meeting { creator { name } } } }`, variables)
	require.Len(t, refused.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", refused.Errors[0].Code())
	require.Contains(t, refused.Errors[0].Message, "limit of 3")
	require.Empty(t, refused.Data, "a request error has no data member")
}

func TestComplexityLimitCountsAliases(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--max-complexity", "10")

	allowed := testenv.PostGraphQL(t, s.baseURL+"/query", token, `{ me { id name } }`, nil)
	require.Empty(t, allowed.Errors)

	var aliases strings.Builder
	for i := range 20 {
		aliases.WriteString(" a" + string(rune('a'+i)) + ": me { id }")
	}

	refused := testenv.PostGraphQL(t, s.baseURL+"/query", token, "{"+aliases.String()+" }", nil)
	require.Len(t, refused.Errors, 1)
	require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", refused.Errors[0].Code())
}

func TestIntrospectionAllowedInDevelopment(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t)

	// GraphiQL's introspection query nests ofType seven levels below a field's type.
	typeRef := "name"
	for range 7 {
		typeRef = "name ofType { " + typeRef + " }"
	}

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token,
		"{ __schema { types { name fields { name type { "+typeRef+" } } } } }", nil)
	require.Empty(t, response.Errors)
	require.Contains(t, string(response.Data), `"Meeting"`)
}

func TestRateLimitAnswers429(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--rate-limit", "1", "--rate-burst", "2")

	statuses := make([]int, 0, 3)
	retryAfter := ""

	for range 3 {
		request, err := http.NewRequest(http.MethodPost, s.baseURL+"/query", strings.NewReader(`{"query":"{ me { id } }"}`))
		require.NoError(t, err)
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set("Authorization", "Bearer "+token)

		response, err := http.DefaultClient.Do(request)
		require.NoError(t, err)
		_ = response.Body.Close()

		statuses = append(statuses, response.StatusCode)
		retryAfter = response.Header.Get("Retry-After")
	}

	require.Equal(t, []int{200, 200, 429}, statuses)
	require.Equal(t, "1", retryAfter)

	// Another user has a bucket of their own.
	bob := strings.TrimSpace(s.command(t, "token", "--user", "bob@example.com"))
	response := testenv.PostGraphQL(t, s.baseURL+"/query", bob, `{ me { id } }`, nil)
	require.Equal(t, http.StatusOK, response.Status)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--max-body-bytes", "200")

	small := testenv.PostGraphQL(t, s.baseURL+"/query", token, `{ me { id } }`, nil)
	require.Empty(t, small.Errors)

	padding := strings.Repeat(" ", 300)
	large := `{"query":"{ me { id }` + padding + `"}`

	// A chunked body has no Content-Length, so the limit applies while it
	// is read.
	for name, body := range map[string]io.Reader{
		"with length": strings.NewReader(large),
		"chunked":     io.MultiReader(strings.NewReader(large)),
	} {
		request, err := http.NewRequest(http.MethodPost, s.baseURL+"/query", body)
		require.NoError(t, err)
		request.Header.Set("Content-Type", "application/json")

		response, err := http.DefaultClient.Do(request)
		require.NoError(t, err)

		var decoded testenv.GraphQLResponse
		require.NoError(t, json.NewDecoder(response.Body).Decode(&decoded))
		require.NoError(t, response.Body.Close())

		require.Equal(t, http.StatusRequestEntityTooLarge, response.StatusCode, name)
		require.Len(t, decoded.Errors, 1, name)
		require.Contains(t, decoded.Errors[0].Message, "limit of 200 bytes", name)
	}
}

func TestPersistedQueries(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t)
	query := `{ me { name } }`
	sum := sha256.Sum256([]byte(query))
	extensions := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}

	post := func(body map[string]any) testenv.GraphQLResponse { return postBody(t, s, token, body) }

	unknown := post(map[string]any{"extensions": extensions})
	require.Len(t, unknown.Errors, 1)
	require.Equal(t, "PersistedQueryNotFound", unknown.Errors[0].Message, "the message Apollo's persisted-query link looks for")
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", unknown.Errors[0].Code())

	registered := post(map[string]any{"query": query, "extensions": extensions})
	require.Empty(t, registered.Errors)

	byHash := post(map[string]any{"extensions": extensions})
	require.Empty(t, byHash.Errors)
	require.JSONEq(t, `{"me": {"name": "Alice Archer"}}`, string(byHash.Data))
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()

	s, _ := limitedSystem(t, "--allowed-origins", "https://app.example.com")

	preflight := func(origin string) *http.Response {
		request, err := http.NewRequest(http.MethodOptions, s.baseURL+"/query", nil)
		require.NoError(t, err)
		request.Header.Set("Origin", origin)
		request.Header.Set("Access-Control-Request-Method", http.MethodPost)
		request.Header.Set("Access-Control-Request-Headers", "authorization,content-type")

		client := &http.Client{Timeout: 10 * time.Second}
		response, err := client.Do(request)
		require.NoError(t, err)
		_ = response.Body.Close()

		return response
	}

	allowed := preflight("https://app.example.com")
	require.Equal(t, "https://app.example.com", allowed.Header.Get("Access-Control-Allow-Origin"))

	refused := preflight("https://evil.example.net")
	require.Empty(t, refused.Header.Get("Access-Control-Allow-Origin"))
}

func TestBatchedOperations(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--max-batch-operations", "2")

	send := func(body string) (int, []testenv.GraphQLResponse) {
		request, err := http.NewRequest(http.MethodPost, s.baseURL+"/query", strings.NewReader(body))
		require.NoError(t, err)
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set("Authorization", "Bearer "+token)

		response, err := http.DefaultClient.Do(request)
		require.NoError(t, err)
		defer response.Body.Close()

		raw, err := io.ReadAll(response.Body)
		require.NoError(t, err)

		var batch []testenv.GraphQLResponse
		if json.Unmarshal(raw, &batch) != nil {
			var single testenv.GraphQLResponse
			require.NoError(t, json.Unmarshal(raw, &single), "%s", raw)
			batch = []testenv.GraphQLResponse{single}
		}

		return response.StatusCode, batch
	}

	status, batch := send(`[{"query":"{ me { name } }"},{"query":"{ nope }"}]`)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, batch, 2)
	require.JSONEq(t, `{"me": {"name": "Alice Archer"}}`, string(batch[0].Data))
	require.Len(t, batch[1].Errors, 1, "a bad operation fails alone")

	status, batch = send(`[{"query":"{ me { id } }"},{"query":"{ me { id } }"},{"query":"{ me { id } }"}]`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Len(t, batch, 1)
	require.Contains(t, batch[0].Errors[0].Message, "1 to 2 operations")
}

func TestProductionModeHidesPlaygroundAndSchema(t *testing.T) {
	t.Parallel()

	addr := testenv.FreeAddr(t)
	settings := settingArgs(t, testenv.DatabaseURL(t))
	production := []string{"all", "--http-addr", addr, "--jwt-secret", strings.Repeat("s", 32)}

	for _, setting := range settings {
		if setting != "--dev" {
			production = append(production, setting)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- run(ctx, production, &bytes.Buffer{}, &bytes.Buffer{}) }()

	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	baseURL := "http://" + addr
	testenv.Eventually(t, 30*time.Second, func() error {
		if status, body := get(t, baseURL+"/readyz"); status != http.StatusOK {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		return nil
	})

	status, _ := get(t, baseURL+"/")
	require.Equal(t, http.StatusNotFound, status, "no Playground without --playground or --dev")

	response := testenv.PostGraphQL(t, baseURL+"/query", "", `{ __schema { types { name } } }`, nil)
	require.NotEmpty(t, response.Errors, "no introspection without --introspection or --dev")
	require.Equal(t, "FORBIDDEN", response.Errors[0].Code())
	require.Contains(t, response.Errors[0].Message, "introspection is disabled")

	response = testenv.PostGraphQL(t, baseURL+"/query", "", `{ __typename }`, nil)
	require.Empty(t, response.Errors, "__typename is not introspection")
}

func TestRequestTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t, "--request-timeout", "1ns")

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token, `{ meetings(first: 5) { edges { node { title } } } }`, nil)
	require.NotEmpty(t, response.Errors, "%d %s", response.Status, response.Data)
	require.Equal(t, "UNAVAILABLE", response.Errors[0].Code())
	require.Contains(t, response.Errors[0].Message, "timed out")

	status, _ := get(t, s.baseURL+"/healthz")
	require.Equal(t, http.StatusOK, status, "endpoints other than /query have no request time limit")
}

func TestBadInputIsNeverInternal(t *testing.T) {
	t.Parallel()

	s, token := limitedSystem(t)
	query := `{ me { name } }`

	cases := []struct {
		name, query string
		variables   map[string]any
		extensions  map[string]any
	}{
		{"time without zone", `mutation { createMeeting(input: {title: "x", scheduledAt: "2026-12-05T10:00:00"}) { id } }`, nil, nil},
		{"time in words", `mutation { createMeeting(input: {title: "x", scheduledAt: "yesterday"}) { id } }`, nil, nil},
		{"NUL in title", `mutation($title: String!) { createMeeting(input: {title: $title}) { id } }`,
			map[string]any{"title": "a\u0000b"}, nil},
		{"persisted query hash mismatch", query, nil,
			map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			decoded := postBody(t, s, token, map[string]any{
				"query": tc.query, "variables": tc.variables, "extensions": tc.extensions,
			})
			require.NotEmpty(t, decoded.Errors)
			require.Equal(t, "BAD_USER_INPUT", decoded.Errors[0].Code(), decoded.Errors[0].Message)
		})
	}
}

// postBody posts body as JSON to the system's GraphQL endpoint with token
// and decodes the response, whatever its status.
func postBody(t *testing.T, s *system, token string, body map[string]any) testenv.GraphQLResponse {
	t.Helper()

	encoded, err := json.Marshal(body)
	require.NoError(t, err)

	request, err := http.NewRequest(http.MethodPost, s.baseURL+"/query", bytes.NewReader(encoded))
	require.NoError(t, err)
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Authorization", "Bearer "+token)

	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err)
	defer response.Body.Close()

	var decoded testenv.GraphQLResponse
	require.NoError(t, json.NewDecoder(response.Body).Decode(&decoded))

	return decoded
}
