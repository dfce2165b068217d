package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/resolvers"
	"github.com/meetgraph/meetgraph/server"
)

// maxPresignExpiry is the longest validity that S3 allows for a presigned URL.
const maxPresignExpiry = 7 * 24 * time.Hour

// ServeCmd runs the gateway.
type ServeCmd struct {
	HTTPFlags `embed:""`
}

func (c *ServeCmd) Run(env *environment) error {
	svc, err := env.openServices("gateway")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	relay := outbox.NewRelay(svc.store, svc.publisher, env.outboxConfig(), env.logger)

	return runRoles(env, svc.dispatcher,
		relay.Run,
		func(ctx context.Context) error { return runGateway(env.withContext(ctx), c.HTTPFlags, svc) })
}

// runGateway serves HTTP until env.ctx is cancelled, then stops accepting
// connections and lets in-flight requests finish for up to the shutdown
// timeout.
func runGateway(env *environment, flags HTTPFlags, svc *services) error {
	if flags.RecordingURLExpiry <= 0 || flags.RecordingURLExpiry > maxPresignExpiry {
		return fmt.Errorf("MEETGRAPH_RECORDING_URL_EXPIRY (--recording-url-expiry) is %s: it must be more than 0 and at most %s",
			flags.RecordingURLExpiry, maxPresignExpiry)
	}

	tokens, err := env.tokens()
	if err != nil {
		return err
	}

	logger := env.logger.With(slog.String("component", "gateway"))
	schema := graph.NewExecutableSchema(graph.Config{
		Resolvers: &resolvers.Resolver{
			Store:              svc.store,
			Objects:            svc.objects,
			Logger:             logger,
			RecordingURLExpiry: flags.RecordingURLExpiry,
		},
	})

	handler := server.NewHandler(server.Config{
		Playground:    flags.Playground || env.globals.Dev,
		Introspection: flags.Introspection || env.globals.Dev,
	}, server.Deps{
		Logger: logger,
		Schema: schema,
		Tokens: tokens,
		Checks: svc.readinessChecks(),
	})

	listener, err := net.Listen("tcp", flags.HTTPAddr)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_HTTP_ADDR (--http-addr): %w", err)
	}

	httpServer := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)

	go func() { served <- httpServer.Serve(listener) }()

	logger.Info("gateway listening", slog.String("addr", listener.Addr().String()),
		slog.String("graphql", "http://"+listener.Addr().String()+"/query"))

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
