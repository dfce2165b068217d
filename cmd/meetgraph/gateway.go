package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/resolvers"
	"github.com/meetgraph/meetgraph/server"
)

// maxPresignExpiry is the longest validity that S3 allows for a presigned URL.
const maxPresignExpiry = 7 * 24 * time.Hour

// maxObjectBytes is the largest object that S3 stores, 5 TiB.
const maxObjectBytes = 5 << 40

// websocketOrigins returns the WebSocket origin patterns without the spaces
// around them. It rejects a pattern that could never match an Origin
// header: path.Match syntax errors, which would make coder/websocket reject
// every origin, and a path after the host.
func websocketOrigins(flags HTTPFlags) ([]string, error) {
	patterns := make([]string, 0, len(flags.WebSocketAllowedOrigins))

	for _, pattern := range flags.WebSocketAllowedOrigins {
		pattern = strings.TrimSpace(pattern)

		_, host, hasScheme := strings.Cut(pattern, "://")
		if !hasScheme {
			host = pattern
		}

		_, matchErr := path.Match(pattern, "")

		if pattern == "" || matchErr != nil || strings.Contains(host, "/") {
			return nil, fmt.Errorf("MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS (--websocket-allowed-origins) has the invalid "+
				"pattern %q: write a host such as app.example.com or *.example.com, or scheme://host", pattern)
		}

		patterns = append(patterns, pattern)
	}

	return patterns, nil
}

// ServeCmd runs the gateway.
type ServeCmd struct {
	HTTPFlags `embed:""`
}

func (c *ServeCmd) Run(env *environment) error {
	checked, err := checkGatewaySettings(env, c.HTTPFlags)
	if err != nil {
		return err
	}

	svc, err := env.openMigratedServices("gateway")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	relay := outbox.NewRelay(svc.store, svc.publisher, env.outboxConfig(), env.logger)

	return runRoles(env, svc.dispatcher,
		relay.Run,
		func(ctx context.Context) error { return runGateway(env.withContext(ctx), c.HTTPFlags, checked, svc) })
}

// gatewaySettings are the values that checkGatewaySettings derives from
// the flags.
type gatewaySettings struct {
	tokens *auth.Tokens
	// origins are the WebSocket origin patterns without surrounding spaces.
	origins []string
}

// checkGatewaySettings rejects invalid gateway settings and returns the
// token verifier and the WebSocket origins. The commands call it before they
// connect to any service, so that a missing secret or a bad flag is the
// first and only error.
func checkGatewaySettings(env *environment, flags HTTPFlags) (*gatewaySettings, error) {
	if flags.RecordingURLExpiry <= 0 || flags.RecordingURLExpiry > maxPresignExpiry {
		return nil, fmt.Errorf("MEETGRAPH_RECORDING_URL_EXPIRY (--recording-url-expiry) is %s: it must be more than 0 and at most %s",
			flags.RecordingURLExpiry, maxPresignExpiry)
	}

	if flags.MaxUploadBytes <= 0 || flags.MaxUploadBytes > maxObjectBytes {
		return nil, fmt.Errorf("MEETGRAPH_MAX_UPLOAD_BYTES (--max-upload-bytes) is %d: it must be more than 0 "+
			"and at most %d, S3's largest object (5 TiB)", flags.MaxUploadBytes, int64(maxObjectBytes))
	}

	if err := checkDurationSettings(
		durationSetting{"MEETGRAPH_REQUEST_TIMEOUT", "request-timeout", flags.RequestTimeout, false},
		durationSetting{"MEETGRAPH_UPLOAD_TIMEOUT", "upload-timeout", flags.UploadTimeout, false},
	); err != nil {
		return nil, err
	}

	if flags.LoaderWait <= 0 || flags.LoaderMaxBatch <= 0 {
		return nil, fmt.Errorf("MEETGRAPH_LOADER_WAIT (--loader-wait) is %s and MEETGRAPH_LOADER_MAX_BATCH "+
			"(--loader-max-batch) is %d: both must be more than 0", flags.LoaderWait, flags.LoaderMaxBatch)
	}

	origins, err := websocketOrigins(flags)
	if err != nil {
		return nil, err
	}

	if err := checkSubscriptionFlags(flags); err != nil {
		return nil, err
	}

	if err := checkLimitFlags(flags); err != nil {
		return nil, err
	}

	tokens, err := env.tokens()
	if err != nil {
		return nil, err
	}

	return &gatewaySettings{tokens: tokens, origins: origins}, nil
}

// runGateway serves HTTP until env.ctx is cancelled, then stops accepting
// connections and lets in-flight requests finish for up to the shutdown
// timeout. checked is what checkGatewaySettings returned for flags.
func runGateway(env *environment, flags HTTPFlags, checked *gatewaySettings, svc *services) error {
	logger := env.logger.With(slog.String("component", "gateway"))

	hub := events.NewHub(flags.SubscriptionBuffer)
	defer hub.Close()

	eventListener, err := events.Listen(svc.broker, hub, events.ListenerConfig{}, logger)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_AMQP_URL (--amqp-url): %w", err)
	}
	defer closeListener(eventListener, logger)

	schema := graph.NewExecutableSchema(graph.Config{
		Resolvers: &resolvers.Resolver{
			Store:              svc.store,
			Objects:            svc.objects,
			Logger:             logger,
			RecordingURLExpiry: flags.RecordingURLExpiry,
			MaxUploadBytes:     flags.MaxUploadBytes,
			Hub:                hub,
		},
	})

	if flags.NoLoaders {
		logger.Warn("dataloaders are off: every relation costs its own SQL statement (benchmark baseline)")
	}

	loaderConfig := loaders.Config{
		Wait: flags.LoaderWait, MaxBatch: flags.LoaderMaxBatch, Disabled: flags.NoLoaders, Metrics: svc.metrics,
	}

	httpServer := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	httpServer.Handler = server.NewHandler(server.Config{
		Playground:              flags.Playground || env.globals.Dev,
		Introspection:           flags.Introspection || env.globals.Dev,
		PersistedQueryCacheSize: flags.PersistedQueryCache,
		AllowedOrigins:          flags.AllowedOrigins,
		Limits: server.Limits{
			MaxDepth:           flags.MaxDepth,
			MaxAliases:         flags.MaxAliases,
			MaxComplexity:      flags.MaxComplexity,
			DefaultListSize:    flags.DefaultListSize,
			MaxBodyBytes:       flags.MaxBodyBytes,
			RequestTimeout:     flags.RequestTimeout,
			MaxBatchOperations: flags.MaxBatchOperations,
			UploadTimeout:      flags.UploadTimeout,
		},
		RateLimit:         server.RateLimit{PerSecond: flags.RateLimit, Burst: flags.RateBurst},
		Tracing:           env.globals.OTLPEndpoint != "",
		MaxUploadBytes:    flags.MaxUploadBytes,
		SubscriptionStats: env.globals.Dev,
		Subscriptions: server.SubscriptionConfig{
			PingInterval:     flags.SubscriptionPingInterval,
			InitTimeout:      flags.SubscriptionInitTimeout,
			AllowedOrigins:   checked.origins,
			MaxPerConnection: flags.MaxSubscriptionsPerConnection,
		},
	}, server.Deps{
		Logger:        logger,
		Schema:        schema,
		Tokens:        checked.tokens,
		Checks:        svc.readinessChecks(),
		Metrics:       svc.metrics,
		Subscriptions: hub,
		OnShutdown:    httpServer.RegisterOnShutdown,
		// Inside the token check, because the meetings loader reads the caller.
		GraphQLMiddleware: loaders.Middleware(svc.store, loaderConfig, logger),
		ResponseContext:   loaders.ForResponse(svc.store, loaderConfig, logger),
	})

	listener, err := net.Listen("tcp", flags.HTTPAddr)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_HTTP_ADDR (--http-addr): %w", err)
	}

	served := make(chan error, 1)

	go func() { served <- httpServer.Serve(listener) }()

	logger.Info("gateway listening", slog.String("addr", listener.Addr().String()),
		slog.String("graphql", "http://"+listener.Addr().String()+"/query"),
		slog.String("event_queue", eventListener.Queue()))

	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP on %s: %w", listener.Addr(), err)
	case <-env.ctx.Done():
	}

	logger.Info("gateway shutting down", slog.Duration("timeout", flags.ShutdownTimeout))

	shutdownCtx, cancel := context.WithTimeout(context.Background(), flags.ShutdownTimeout)
	defer cancel()

	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		logger.Warn("in-flight requests did not finish in time; closing their connections",
			slog.Any("error", err))
		_ = httpServer.Close()
	}

	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP on %s: %w", listener.Addr(), err)
	}

	logger.Info("gateway stopped")

	return nil
}

// checkSubscriptionFlags rejects subscription settings that would make the
// transports close every connection at once or never buffer an event.
func checkSubscriptionFlags(flags HTTPFlags) error {
	if err := checkDurationSettings(
		durationSetting{"MEETGRAPH_SUBSCRIPTION_PING_INTERVAL", "subscription-ping-interval",
			flags.SubscriptionPingInterval, false},
		durationSetting{"MEETGRAPH_SUBSCRIPTION_INIT_TIMEOUT", "subscription-init-timeout",
			flags.SubscriptionInitTimeout, false},
	); err != nil {
		return err
	}

	if flags.SubscriptionBuffer <= 0 {
		return fmt.Errorf("MEETGRAPH_SUBSCRIPTION_BUFFER (--subscription-buffer) is %d: it must be at least 1",
			flags.SubscriptionBuffer)
	}

	return nil
}

// checkLimitFlags rejects request limits out of range. The server package
// reads 0 or a negative value as its default or as "no limit", so a typo
// such as --rate-limit=-5 silently turned the limit off. Only the rate
// limit has an off value, 0.
func checkLimitFlags(flags HTTPFlags) error {
	limits := []struct {
		env, flag string
		value     float64
		minimum   float64
	}{
		{"MEETGRAPH_MAX_DEPTH", "max-depth", float64(flags.MaxDepth), 1},
		{"MEETGRAPH_MAX_ALIASES", "max-aliases", float64(flags.MaxAliases), 1},
		{"MEETGRAPH_MAX_COMPLEXITY", "max-complexity", float64(flags.MaxComplexity), 1},
		{"MEETGRAPH_DEFAULT_LIST_SIZE", "default-list-size", float64(flags.DefaultListSize), 1},
		{"MEETGRAPH_MAX_BODY_BYTES", "max-body-bytes", float64(flags.MaxBodyBytes), 1},
		{"MEETGRAPH_MAX_BATCH_OPERATIONS", "max-batch-operations", float64(flags.MaxBatchOperations), 1},
		{"MEETGRAPH_RATE_LIMIT", "rate-limit", flags.RateLimit, 0},
		{"MEETGRAPH_RATE_BURST", "rate-burst", float64(flags.RateBurst), 1},
		{"MEETGRAPH_PERSISTED_QUERY_CACHE", "persisted-query-cache", float64(flags.PersistedQueryCache), 1},
		{"MEETGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION", "max-subscriptions-per-connection",
			float64(flags.MaxSubscriptionsPerConnection), 1},
	}

	for _, limit := range limits {
		if limit.value < limit.minimum {
			return fmt.Errorf("%s (--%s) is %v: it must be at least %v", limit.env, limit.flag, limit.value, limit.minimum)
		}
	}

	return nil
}

// closeListener stops consuming events; the hub is closed after it, so that
// no event arrives for a closed hub.
func closeListener(listener *events.Listener, logger *slog.Logger) {
	if err := listener.Close(); err != nil {
		logger.Warn("closing event listener failed", slog.Any("error", err))
	}
}
