package server

import (
	"encoding/json"
	"mime"
	"net/http"

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

		switch {
		case r.ContentLength < 0:
			writeRequestError(w, http.StatusLengthRequired, apperr.New(apperr.BadUserInput,
				"a multipart upload needs a Content-Length header; send the file as a sized body"))
		case r.ContentLength > limit+multipartEnvelope:
			writeRequestError(w, http.StatusRequestEntityTooLarge, media.UploadLimitError(r.ContentLength, limit))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeRequestError responds to a request that never reached GraphQL
// execution with a GraphQL response whose one error carries the code.
func writeRequestError(w http.ResponseWriter, status int, err *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)

	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    err.Message,
			"extensions": map[string]any{"code": string(err.Code)},
		}},
	})
}
