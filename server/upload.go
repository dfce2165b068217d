package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/media"
)

// multipartEnvelope is room for the operations and map parts of a GraphQL
// multipart request beside the file itself.
const multipartEnvelope = 1 << 20

// uploadMemory is how much of a multipart request gqlgen keeps in memory;
// a larger request spools its file to a temporary file instead.
const uploadMemory = 1 << 20

// limitUploads rejects GraphQL multipart requests that are larger than
// the upload limit before any byte of the file is read, with a
// BAD_USER_INPUT error that names the limit. It also rejects multipart
// requests without a Content-Length, because gqlgen reads those into
// memory whole.
func limitUploads(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || mediaType != "multipart/form-data" {
			next.ServeHTTP(w, r)

			return
		}

		var rejection *apperr.Error

		status := http.StatusOK

		switch {
		case r.ContentLength < 0:
			status = http.StatusLengthRequired
			rejection = apperr.New(apperr.BadUserInput,
				"a multipart upload needs a Content-Length header; send the file as a sized body")
		case r.ContentLength > limit+multipartEnvelope:
			status = http.StatusRequestEntityTooLarge
			rejection = media.UploadLimitError(r.ContentLength, limit)
		default:
			coded := &codedUploadErrors{ResponseWriter: w}
			next.ServeHTTP(coded, r)
			coded.finish()

			return
		}

		// Closing the connection stops a client that would otherwise keep
		// sending the rest of a large file.
		w.Header().Set("Connection", "close")
		writeGraphQLError(w, status, rejection.Code, rejection.Message)
	})
}

// codedUploadErrors gives the errors of gqlgen's multipart transport an
// extensions.code. gqlgen v0.17.98 rejects a malformed multipart request,
// such as a missing operations part or an unreadable map, with 422 and
// errors that carry a message only. It holds back an error response until
// finish adds BAD_USER_INPUT to each error without a code, and passes any
// other response through unchanged.
type codedUploadErrors struct {
	http.ResponseWriter

	status int
	body   bytes.Buffer
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *codedUploadErrors) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

func (w *codedUploadErrors) WriteHeader(status int) {
	if w.status != 0 {
		return
	}

	w.status = status
	if status < http.StatusBadRequest {
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *codedUploadErrors) Write(data []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}

	if w.status >= http.StatusBadRequest {
		return w.body.Write(data)
	}

	return w.ResponseWriter.Write(data)
}

// finish writes the held-back error response with a code on every error.
func (w *codedUploadErrors) finish() {
	if w.status < http.StatusBadRequest {
		return
	}

	body := w.body.Bytes()

	var response graphql.Response
	if err := json.Unmarshal(body, &response); err == nil && len(response.Errors) > 0 {
		for _, e := range response.Errors {
			if _, ok := e.Extensions["code"]; !ok {
				if e.Extensions == nil {
					e.Extensions = map[string]any{}
				}

				e.Extensions["code"] = apperr.BadUserInput
			}
		}

		if coded, err := json.Marshal(&response); err == nil {
			body = coded
		}
	}

	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}
