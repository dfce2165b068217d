package server

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/meetgraph/meetgraph/apperr"
)

// Limits bound what one request may cost. Zero values take the defaults
// listed on each field.
type Limits struct {
	// MaxDepth is the deepest field nesting an operation may have (default 12).
	MaxDepth int
	// MaxAliases is the most aliased fields an operation may have (default 30).
	MaxAliases int
	// MaxComplexity is the highest cost an operation may have (default 50000):
	// each field costs 1, a list with `first` costs first times its
	// selection, and a list without it DefaultListSize times.
	MaxComplexity int
	// DefaultListSize is the assumed length of lists without `first` (default 10).
	DefaultListSize int
	// MaxBodyBytes bounds a JSON or GET request (default 1 MiB); uploads have their own limit.
	MaxBodyBytes int64
	// MaxTokens bounds how many tokens the parser reads from one query
	// (default 15000), so that a huge query is rejected before validation.
	MaxTokens int
	// RequestTimeout bounds one query or mutation (default 30 s), or a whole batch.
	RequestTimeout time.Duration
	// MaxBatchOperations bounds how many operations one batched request may
	// hold (default 10).
	MaxBatchOperations int
	// UploadTimeout bounds a multipart upload request (default 1 h): a large
	// recording takes longer than any query should.
	UploadTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 12
	}

	if l.MaxAliases <= 0 {
		l.MaxAliases = 30
	}

	if l.MaxComplexity <= 0 {
		l.MaxComplexity = 50000
	}

	if l.DefaultListSize <= 0 {
		l.DefaultListSize = 10
	}

	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 1 << 20
	}

	if l.MaxTokens <= 0 {
		l.MaxTokens = 15000
	}

	if l.MaxBatchOperations <= 0 {
		l.MaxBatchOperations = 10
	}

	if l.UploadTimeout <= 0 {
		l.UploadTimeout = time.Hour
	}

	if l.RequestTimeout <= 0 {
		l.RequestTimeout = 30 * time.Second
	}

	return l
}

// limitRequest bounds the body of non-multipart requests, whose size the
// upload limit checks, and the time a request may take. WebSocket upgrades and event streams are left alone:
// they live as long as their subscriptions.
func limitRequest(limits Limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isLongLived(r) {
			next.ServeHTTP(w, r)

			return
		}

		timeout := limits.RequestTimeout

		mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mediaType == "multipart/form-data" {
			timeout = limits.UploadTimeout
		} else {
			if r.ContentLength > limits.MaxBodyBytes {
				writeGraphQLError(w, http.StatusRequestEntityTooLarge, apperr.BadUserInput,
					"request body is larger than the limit of "+strconv.FormatInt(limits.MaxBodyBytes, 10)+" bytes")

				return
			}

			r.Body = http.MaxBytesReader(w, r.Body, limits.MaxBodyBytes)
		}

		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()

		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isLongLived(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return true
	}

	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Accept"))

	return mediaType == "text/event-stream"
}

// writeGraphQLError writes an error response from outside the GraphQL
// executor, in the shape that GraphQL clients read.
func writeGraphQLError(w http.ResponseWriter, status int, code apperr.Code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": string(code)}}},
	})
}
