// Package gqlclient is a small GraphQL-over-HTTP client for meetgraph's
// tests and demo: JSON requests, GraphQL multipart uploads and
// subscriptions over graphql-transport-ws.
package gqlclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// Response is a decoded GraphQL response with its HTTP status.
type Response struct {
	Status int             `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one entry of a response's errors list.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the error's extensions.code, or "".
func (e Error) Code() string {
	code, _ := e.Extensions["code"].(string)

	return code
}

// Err returns the response's errors as one Go error, or nil.
func (r Response) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}

	messages := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		messages[i] = e.Message
		if code := e.Code(); code != "" {
			messages[i] += " (" + code + ")"
		}
	}

	return fmt.Errorf("GraphQL errors: %s", strings.Join(messages, "; "))
}

// Upload is a GraphQL multipart request
// (https://github.com/jaydenseric/graphql-multipart-request-spec) that
// sends one file as the variable FileVariable, as Apollo upload clients
// do. File is streamed, so large uploads need no memory; Size must be its
// exact length.
type Upload struct {
	Query        string
	Variables    map[string]any
	FileVariable string
	FileName     string
	ContentType  string
	File         io.Reader
	Size         int64
}

// NewUploadRequest builds the HTTP request with an exact Content-Length.
func NewUploadRequest(ctx context.Context, endpoint, token string, upload Upload) (*http.Request, error) {
	variables := map[string]any{}
	for name, value := range upload.Variables {
		variables[name] = value
	}

	variables[upload.FileVariable] = nil

	operations, err := json.Marshal(map[string]any{"query": upload.Query, "variables": variables})
	if err != nil {
		return nil, fmt.Errorf("encode operations: %w", err)
	}

	var head bytes.Buffer

	form := multipart.NewWriter(&head)
	_ = form.WriteField("operations", string(operations))
	_ = form.WriteField("map", `{"0": ["variables.`+upload.FileVariable+`"]}`)

	header := textproto.MIMEHeader{}
	header.Set("Content-Disposition", `form-data; name="0"; filename="`+upload.FileName+`"`)
	header.Set("Content-Type", upload.ContentType)

	if _, err := form.CreatePart(header); err != nil {
		return nil, fmt.Errorf("write multipart header: %w", err)
	}

	tail := "\r\n--" + form.Boundary() + "--\r\n"
	body := io.MultiReader(bytes.NewReader(head.Bytes()), upload.File, strings.NewReader(tail))

	request, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, fmt.Errorf("build upload request: %w", err)
	}

	request.ContentLength = int64(head.Len()) + upload.Size + int64(len(tail))
	request.Header.Set("Content-Type", form.FormDataContentType())
	setToken(request, token)

	return request, nil
}

// NewRequest builds a JSON POST of query with variables.
func NewRequest(ctx context.Context, endpoint, token, query string, variables map[string]any) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return nil, fmt.Errorf("encode GraphQL request: %w", err)
	}

	request, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build GraphQL request: %w", err)
	}

	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/graphql-response+json, application/json")
	setToken(request, token)

	return request, nil
}

func setToken(request *http.Request, token string) {
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
}

// Do sends request and decodes the GraphQL response, whatever its status.
func Do(client *http.Client, request *http.Request) (Response, error) {
	response, err := client.Do(request)
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: %w", request.URL, err)
	}
	defer response.Body.Close()

	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return Response{}, fmt.Errorf("read response of %s: %w", request.URL, err)
	}

	decoded := Response{Status: response.StatusCode}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return Response{}, fmt.Errorf("decode response of %s (status %d): %w: %.200s",
			request.URL, response.StatusCode, err, raw)
	}

	return decoded, nil
}
