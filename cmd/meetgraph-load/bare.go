package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/meetgraph/meetgraph/graph"
)

// runBare serves meetgraph's schema through gqlgen's handler with nothing
// around it: no request id, access log, token check, loaders or request
// checks, and resolvers that are never reached by `{ __typename }`. It is
// the floor against which the full stack's cost of a trivial query is
// measured.
func runBare(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8091", "loopback address to listen on")

	if err := flags.Parse(args); err != nil {
		return err
	}

	srv := handler.New(graph.NewExecutableSchema(graph.Config{}))
	srv.AddTransport(transport.POST{})

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	httpServer := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	served := make(chan error, 1)

	go func() { served <- httpServer.Serve(listener) }()

	logger.Info("bare gqlgen server listening", slog.String("addr", listener.Addr().String()))

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}

	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}

	logger.Info("bare gqlgen server stopped")

	return nil
}
