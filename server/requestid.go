package server

import (
	"context"
	"net/http"
	"regexp"

	"github.com/google/uuid"
)

type requestIDKey struct{}

// validRequestID accepts an incoming X-Request-ID only when it cannot
// disturb log lines: 1 to 64 letters, digits, dots, dashes or underscores.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the id of the request that ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)

	return id
}

// withRequestID gives each request an id, taken from a well-formed
// X-Request-ID header or made up, and echoes it in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}

		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}
