package server

import (
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
			next.ServeHTTP(w, r)

			return
		}

		// Closing the connection stops a client that would otherwise keep
		// sending the rest of a large file.
		w.Header().Set("Connection", "close")
		writeGraphQLError(w, status, rejection.Code, rejection.Message)
	})
}
