package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"
)

// MultipartUpload is a GraphQL multipart request
// (https://github.com/jaydenseric/graphql-multipart-request-spec) that
// sends one file as the variable fileVariable, the way Apollo upload
// clients do. The file is streamed from File, so large uploads need no
// memory; Size must be its exact length.
type MultipartUpload struct {
	Query        string
	Variables    map[string]any
	FileVariable string
	FileName     string
	ContentType  string
	File         io.Reader
	Size         int64
}

// Request builds the HTTP request with an exact Content-Length.
func (u MultipartUpload) Request(t testing.TB, endpoint, token string) *http.Request {
	t.Helper()

	variables := map[string]any{}
	for name, value := range u.Variables {
		variables[name] = value
	}

	variables[u.FileVariable] = nil

	operations, err := json.Marshal(map[string]any{"query": u.Query, "variables": variables})
	if err != nil {
		t.Fatalf("encode operations: %v", err)
	}

	var head bytes.Buffer

	form := multipart.NewWriter(&head)
	_ = form.WriteField("operations", string(operations))
	_ = form.WriteField("map", `{"0": ["variables.`+u.FileVariable+`"]}`)

	header := textproto.MIMEHeader{}
	header.Set("Content-Disposition", `form-data; name="0"; filename="`+u.FileName+`"`)
	header.Set("Content-Type", u.ContentType)

	if _, err := form.CreatePart(header); err != nil {
		t.Fatalf("write multipart header: %v", err)
	}

	tail := "\r\n--" + form.Boundary() + "--\r\n"
	body := io.MultiReader(bytes.NewReader(head.Bytes()), u.File, bytes.NewReader([]byte(tail)))

	request, err := http.NewRequest(http.MethodPost, endpoint, body)
	if err != nil {
		t.Fatalf("build upload request: %v", err)
	}

	request.ContentLength = int64(head.Len()) + u.Size + int64(len(tail))
	request.Header.Set("Content-Type", form.FormDataContentType())

	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}

	return request
}

// PostUpload sends the upload and decodes the GraphQL response.
func PostUpload(t testing.TB, endpoint, token string, upload MultipartUpload) GraphQLResponse {
	t.Helper()

	client := &http.Client{Timeout: 10 * time.Minute}

	response, err := client.Do(upload.Request(t, endpoint, token))
	if err != nil {
		t.Fatalf("POST upload to %s: %v", endpoint, err)
	}
	defer response.Body.Close()

	raw, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read upload response: %v", err)
	}

	decoded := GraphQLResponse{Status: response.StatusCode}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatalf("decode upload response (status %d): %v\n%s", response.StatusCode, err, raw)
	}

	return decoded
}
