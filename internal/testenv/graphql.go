package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
)

// GraphQLResponse is a decoded GraphQL response with its HTTP status.
type GraphQLResponse = gqlclient.Response

// GraphQLError is one entry of a response's errors list.
type GraphQLError = gqlclient.Error

// PostGraphQL sends query with variables to endpoint as a JSON POST, with a
// bearer token when token is not empty, and decodes the response.
func PostGraphQL(t testing.TB, endpoint, token, query string, variables map[string]any) GraphQLResponse {
	t.Helper()

	request, err := gqlclient.NewRequest(context.Background(), endpoint, token, query, variables)
	if err != nil {
		t.Fatalf("build GraphQL request: %v", err)
	}

	response, err := gqlclient.Do(&http.Client{Timeout: 30 * time.Second}, request)
	if err != nil {
		t.Fatalf("GraphQL request: %v", err)
	}

	return response
}

// PostUpload sends a GraphQL multipart upload and decodes the response.
func PostUpload(t testing.TB, endpoint, token string, upload gqlclient.Upload) GraphQLResponse {
	t.Helper()

	request, err := gqlclient.NewUploadRequest(context.Background(), endpoint, token, upload)
	if err != nil {
		t.Fatalf("build upload request: %v", err)
	}

	response, err := gqlclient.Do(&http.Client{Timeout: 10 * time.Minute}, request)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}

	return response
}
