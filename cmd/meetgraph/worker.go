package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meetgraph/meetgraph/store"
)

// WorkCmd runs the workers.
type WorkCmd struct {
	WorkerFlags `embed:""`
}

func (c *WorkCmd) Run(env *environment) error {
	svc, err := env.openServices("worker")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	var group errgroup.Group

	if c.MetricsAddr != "" {
		group.Go(func() error { return runMetricsServer(env, c.MetricsAddr, svc) })
	}

	group.Go(func() error { return runWorkers(env, c.WorkerFlags, svc) })

	return group.Wait()
}

// runMetricsServer serves /metrics and /healthz for the work command until
// env.ctx is cancelled.
func runMetricsServer(env *environment, addr string, svc *services) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})

	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_METRICS_ADDR (--metrics-addr): %w", err)
	}

	metricsServer := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)

	go func() { served <- metricsServer.Serve(listener) }()

	env.logger.Info("metrics listening", slog.String("addr", listener.Addr().String()))

	select {
	case err := <-served:
		return fmt.Errorf("serve metrics on %s: %w", listener.Addr(), err)
	case <-env.ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_ = metricsServer.Shutdown(shutdownCtx)
	<-served

	return nil
}

// AllCmd runs the gateway and the workers in one process.
type AllCmd struct {
	HTTPFlags   `embed:""`
	WorkerFlags `embed:""`
}

func (c *AllCmd) Run(env *environment) error {
	svc, err := env.openServices("all")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	if err := store.Migrate(env.ctx, svc.pool, env.logger); err != nil {
		return err
	}

	var group errgroup.Group

	group.Go(func() error { return runGateway(env, c.HTTPFlags, svc) })
	group.Go(func() error { return runWorkers(env, c.WorkerFlags, svc) })

	return group.Wait()
}

// runWorkers consumes task messages until env.ctx is cancelled.
//
// TODO: no consumers are registered yet; the worker holds its connections
// and waits, so `work` and `all` start and stop cleanly but process nothing.
func runWorkers(env *environment, flags WorkerFlags, svc *services) error {
	logger := env.logger.With(slog.String("component", "worker"))
	logger.Info("worker started", slog.Duration("shutdown_timeout", flags.WorkerShutdownTimeout))

	<-env.ctx.Done()

	logger.Info("worker stopped")

	return nil
}
