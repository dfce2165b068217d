// Package server assembles meetgraph's HTTP surface: the GraphQL endpoint,
// the Playground page, and the health and readiness probes.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/playground"
	"github.com/meetgraph/meetgraph/tracing"
)

// Config sets what the HTTP surface offers.
type Config struct {
	// Playground serves the GraphQL Playground page at /.
	Playground bool
	// Introspection serves __schema and __type queries.
	Introspection bool
	// QueryCacheSize is how many parsed and validated queries are kept.
	QueryCacheSize int
	// PersistedQueryCacheSize is how many automatic persisted queries are
	// remembered by hash (default 1000).
	PersistedQueryCacheSize int
	// AllowedOrigins are the browser origins that may call the API from
	// another site (CORS); empty allows same-origin pages only, and "*" any.
	AllowedOrigins []string
	Limits         Limits
	RateLimit      RateLimit
	// Tracing records OpenTelemetry spans for requests, operations and
	// resolvers through the global tracer provider.
	Tracing bool
	// MaxUploadBytes caps a recording sent with a GraphQL multipart
	// request; media.DefaultMaxUploadBytes when 0.
	MaxUploadBytes int64
	// Subscriptions sets the WebSocket and SSE transports.
	Subscriptions SubscriptionConfig
	// SubscriptionStats serves GET /debug/subscriptions with goroutine,
	// connection and subscription counts.
	SubscriptionStats bool
}

// Deps are the parts the HTTP surface runs on.
type Deps struct {
	Logger *slog.Logger
	Schema graphql.ExecutableSchema
	Tokens *auth.Tokens
	// Checks are the dependencies that /readyz probes.
	Checks []Check
	// Metrics, when set, records operation metrics and is served at /metrics.
	Metrics *metrics.Metrics
	// Subscriptions counts open subscriptions for /debug/subscriptions; may be nil.
	Subscriptions Subscriptions
	// OnShutdown, when set, registers a function to run when the HTTP
	// server shuts down (http.Server.RegisterOnShutdown); the handler uses it
	// to close WebSocket connections and SSE streams.
	OnShutdown func(func())
	// GraphQLMiddleware, when set, wraps the GraphQL endpoint inside the
	// token check, for example to give each request its own dataloaders.
	GraphQLMiddleware func(http.Handler) http.Handler
	// ResponseContext, when set, prepares the context in which each
	// subscription event and each operation on a WebSocket connection is
	// resolved, for example with fresh dataloaders: those requests outlive
	// one operation.
	ResponseContext func(context.Context) context.Context
}

// NewHandler returns the gateway's root HTTP handler.
func NewHandler(config Config, deps Deps) http.Handler {
	mux := http.NewServeMux()
	subscriptions := newSubscriptionTransports(config.Subscriptions, deps)

	if deps.OnShutdown != nil {
		deps.OnShutdown(subscriptions.shutdown)
	}

	maxUpload := config.MaxUploadBytes
	if maxUpload <= 0 {
		maxUpload = media.DefaultMaxUploadBytes
	}

	limits := config.Limits.withDefaults()
	executor := newGraphQLHandler(config, limits, deps, subscriptions)
	executor.AddTransport(transport.MultipartForm{MaxUploadSize: maxUpload + multipartEnvelope, MaxMemory: uploadMemory})

	var graphQL http.Handler = limitUploads(maxUpload, executor)
	if deps.GraphQLMiddleware != nil {
		graphQL = deps.GraphQLMiddleware(graphQL)
	}

	// Outermost first: CORS handles preflights, checkGraphQLRequest rejects
	// what no transport takes, limitRequest bounds body and time, the token
	// check sets the caller, the guard screens subscriptions, and each
	// operation of a batch passes the rate limiter on its own.
	graphQL = deps.Tokens.Middleware(subscriptions.guard(batchHandler(limits.MaxBatchOperations,
		newRateLimiter(config.RateLimit).middleware(graphQL))))
	mux.Handle("/query", withCORS(config.AllowedOrigins, checkGraphQLRequest(limitRequest(limits, graphQL))))
	mux.HandleFunc("GET /healthz", handleHealthz)
	mux.HandleFunc("GET /readyz", handleReadyz(deps.Checks))

	if deps.Metrics != nil {
		mux.Handle("GET /metrics", deps.Metrics.Handler())
	}

	if config.SubscriptionStats {
		mux.Handle("GET /debug/subscriptions", handleSubscriptionStats(subscriptions, deps.Subscriptions))
	}

	if config.Playground {
		page := playground.New("meetgraph", "/query")
		mux.Handle("/{$}", page)
		mux.Handle("/playground/", page)
	}

	var root http.Handler = mux
	if config.Tracing {
		root = otelhttp.NewHandler(mux, "http.request", otelhttp.WithSpanNameFormatter(
			func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}

	return withRequestID(withAccessLog(deps.Logger, root))
}

func newGraphQLHandler(config Config, limits Limits, deps Deps, subscriptions *subscriptionTransports) *handler.Server {
	srv := handler.New(listCostSchema{ExecutableSchema: deps.Schema, defaultListSize: limits.DefaultListSize})

	// The first transport that supports a request serves it: WebSocket
	// upgrades are GET requests and SSE requests are JSON POSTs, so both
	// come before GET and POST.
	subscriptions.addTo(srv, deps.ResponseContext)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	// Before postTransport, which would also take the request: Apollo
	// Client requests @defer results with Accept: multipart/mixed.
	srv.AddTransport(transport.MultipartMixed{})
	srv.AddTransport(postTransport{})

	cacheSize := config.QueryCacheSize
	if cacheSize <= 0 {
		cacheSize = 1000
	}

	srv.SetQueryCache(lru.New[*ast.QueryDocument](cacheSize))
	srv.SetParserTokenLimit(limits.MaxTokens)

	persistedSize := config.PersistedQueryCacheSize
	if persistedSize <= 0 {
		persistedSize = 1000
	}

	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](persistedSize)})
	srv.Use(shapeLimit{maxDepth: limits.MaxDepth, maxAliases: limits.MaxAliases})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))

	if config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionGuard{})
	}

	if deps.Metrics != nil {
		srv.AroundOperations(observeOperations(deps.Metrics))
	}

	if config.Tracing {
		srv.Use(tracing.GraphQL{})
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
