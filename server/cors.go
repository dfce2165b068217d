package server

import (
	"net/http"

	"github.com/rs/cors"
)

// withCORS answers browser preflight requests and sets CORS headers for the
// allowed origins. With no origins configured it adds nothing, so browsers
// allow same-origin pages only.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}

	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		// Apollo Client sends apollo-require-preflight with uploads, and
		// persisted-query and tracing links add their own headers.
		AllowedHeaders: []string{
			"Authorization", "Content-Type", "Accept", "X-Request-ID",
			"Apollo-Require-Preflight", "Apollographql-Client-Name", "Apollographql-Client-Version",
		},
		ExposedHeaders: []string{"X-Request-ID", "Retry-After"},
		MaxAge:         600,
	}).Handler(next)
}
