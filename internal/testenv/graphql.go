package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// GraphQLResponse is a decoded GraphQL response with its HTTP status.
type GraphQLResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []GraphQLError  `json:"errors"`
}

// GraphQLError is one entry of a response's errors list.
type GraphQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the error's extensions.code, or "".
func (e GraphQLError) Code() string {
	code, _ := e.Extensions["code"].(string)

	return code
}

// PostGraphQL sends query with variables to endpoint as a JSON POST, with a
// bearer token when token is not empty, and decodes the response.
func PostGraphQL(t testing.TB, endpoint, token, query string, variables map[string]any) GraphQLResponse {
	t.Helper()

	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		t.Fatalf("encode GraphQL request: %v", err)
	}

	request, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("build GraphQL request: %v", err)
	}

	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/graphql-response+json, application/json")

	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}

	client := &http.Client{Timeout: 30 * time.Second}

	response, err := client.Do(request)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer response.Body.Close()

	raw, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read GraphQL response: %v", err)
	}

	decoded := GraphQLResponse{Status: response.StatusCode}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatalf("decode GraphQL response (status %d): %v\n%s", response.StatusCode, err, raw)
	}

	return decoded
}
