package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/meetgraph/meetgraph/apperr"
)

// batchHandler runs a JSON array of operations, as Apollo's BatchHttpLink
// sends them, one after another through next, and writes the array
// of their responses in the same order. Each operation passes through next
// on its own, so rate limits and errors apply per operation. A batch larger
// than maxOperations is rejected whole.
func batchHandler(maxOperations int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || mediaType != "application/json" {
			next.ServeHTTP(w, r)

			return
		}

		body, err := io.ReadAll(r.Body)
		if err != nil {
			status := http.StatusBadRequest
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				status = http.StatusRequestEntityTooLarge
			}

			writeGraphQLError(w, status, apperr.BadUserInput, "read request body: "+describeDecodeError(err))

			return
		}

		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '[' {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)

			return
		}

		var operations []json.RawMessage
		if err := json.Unmarshal(trimmed, &operations); err != nil {
			writeGraphQLError(w, http.StatusBadRequest, apperr.BadUserInput, "invalid batch: "+err.Error())

			return
		}

		if len(operations) == 0 || len(operations) > maxOperations {
			writeGraphQLError(w, http.StatusBadRequest, apperr.BadUserInput,
				"a batch must hold 1 to "+strconv.Itoa(maxOperations)+" operations, not "+strconv.Itoa(len(operations)))

			return
		}

		responses := make([]json.RawMessage, len(operations))
		for i, operation := range operations {
			responses[i] = runOperation(next, r, operation)
		}

		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(responses)
	})
}

// runOperation runs one operation of a batch and returns its response body.
func runOperation(next http.Handler, r *http.Request, operation json.RawMessage) json.RawMessage {
	single := r.Clone(r.Context())
	single.Body = io.NopCloser(bytes.NewReader(operation))
	single.ContentLength = int64(len(operation))

	recorder := &bufferedResponse{header: http.Header{}}
	next.ServeHTTP(recorder, single)

	if !json.Valid(recorder.body.Bytes()) {
		return json.RawMessage(`{"errors":[{"message":"operation returned no JSON response","extensions":{"code":"INTERNAL"}}]}`)
	}

	return json.RawMessage(bytes.TrimSpace(recorder.body.Bytes()))
}

// bufferedResponse collects one operation's response in memory, which is
// a small JSON document.
type bufferedResponse struct {
	header http.Header
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

func (b *bufferedResponse) WriteHeader(int) {}
