package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
)

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

	decoded := GraphQLResponse{Status: response.Status, Data: response.Data}
	for _, e := range response.Errors {
		decoded.Errors = append(decoded.Errors, GraphQLError(e))
	}

	return decoded
}
