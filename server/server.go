// Package server assembles meetgraph's HTTP surface: the GraphQL endpoint,
// the Playground page, and the health and readiness probes.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/playground"
)

// Config sets what the HTTP surface offers.
type Config struct {
	// Playground serves the GraphQL Playground page at /.
	Playground bool
	// Introspection answers __schema and __type queries.
	Introspection bool
	// QueryCacheSize is how many parsed and validated queries are kept.
	QueryCacheSize int
}

// Deps are the parts the HTTP surface runs on.
type Deps struct {
	Logger *slog.Logger
	Schema graphql.ExecutableSchema
	Tokens *auth.Tokens
	// Checks are the dependencies that /readyz probes.
	Checks []Check
	// GraphQLMiddleware, when set, wraps the GraphQL endpoint inside the
	// token check, for example to give each request its own dataloaders.
	GraphQLMiddleware func(http.Handler) http.Handler
}

// NewHandler returns the gateway's root HTTP handler.
func NewHandler(config Config, deps Deps) http.Handler {
	mux := http.NewServeMux()

	var graphQL http.Handler = newGraphQLHandler(config, deps)
	if deps.GraphQLMiddleware != nil {
		graphQL = deps.GraphQLMiddleware(graphQL)
	}

	mux.Handle("/query", checkGraphQLRequest(deps.Tokens.Middleware(graphQL)))
	mux.HandleFunc("GET /healthz", handleHealthz)
	mux.HandleFunc("GET /readyz", handleReadyz(deps.Checks))

	if config.Playground {
		page := playground.New("meetgraph", "/query")
		mux.Handle("/{$}", page)
		mux.Handle("/playground/", page)
	}

	return withRequestID(withAccessLog(deps.Logger, mux))
}

func newGraphQLHandler(config Config, deps Deps) *handler.Server {
	srv := handler.New(deps.Schema)

	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	// Before postTransport, which would also take the request: Apollo
	// Client asks for @defer results with Accept: multipart/mixed.
	srv.AddTransport(transport.MultipartMixed{})
	srv.AddTransport(postTransport{})

	cacheSize := config.QueryCacheSize
	if cacheSize <= 0 {
		cacheSize = 1000
	}

	srv.SetQueryCache(lru.New[*ast.QueryDocument](cacheSize))

	if config.Introspection {
		srv.Use(extension.Introspection{})
	}

	srv.SetErrorPresenter(presentError(deps.Logger))
	srv.SetRecoverFunc(recoverPanic(deps.Logger))

	return srv
}

// withAccessLog logs each request at debug level, and at warn level when it
// failed with a server error.
func withAccessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

		next.ServeHTTP(recorder, r)

		level := slog.LevelDebug
		if recorder.status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}

		logger.Log(r.Context(), level, "http request",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", recorder.status),
			slog.Duration("duration", time.Since(start)))
	})
}

// statusRecorder remembers the status code written through it. Unwrap lets
// http.ResponseController reach the underlying writer's Flush and Hijack,
// which streaming and WebSocket transports need.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Flush passes flushes through, because gqlgen's streaming transports
// (multipart/mixed for @defer, SSE) check for http.Flusher with a type
// assertion instead of http.ResponseController.
func (r *statusRecorder) Flush() {
	if flusher, ok := r.ResponseWriter.(http.Flusher); ok {
		flusher.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}
