package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meetgraph/meetgraph/consumers"
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

	parts := []func(*environment) error{
		func(env *environment) error { return runWorkers(env, c.WorkerFlags, svc) },
	}

	if c.MetricsAddr != "" {
		parts = append(parts, func(env *environment) error { return runMetricsServer(env, c.MetricsAddr, svc) })
	}

	return runTogether(env, parts...)
}

// runTogether runs each part with a context that is cancelled as soon as
// any part returns, so that one part failing at start-up stops the others
// instead of leaving the process half running. It returns the first error.
func runTogether(env *environment, parts ...func(*environment) error) error {
	group, ctx := errgroup.WithContext(env.ctx)
	shared := *env
	shared.ctx = ctx

	for _, part := range parts {
		group.Go(func() error {
			err := part(&shared)
			if err == nil && env.ctx.Err() == nil {
				// A part that ends on its own before shutdown still stops the rest.
				return errPartEnded
			}

			return err
		})
	}

	err := group.Wait()
	if errors.Is(err, errPartEnded) {
		return nil
	}

	return err
}

// errPartEnded cancels the other parts when one returns without an error.
var errPartEnded = errors.New("a part of the process ended")

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

	return runTogether(env,
		func(env *environment) error { return runGateway(env, c.HTTPFlags, svc) },
		func(env *environment) error { return runWorkers(env, c.WorkerFlags, svc) },
	)
}

// runWorkers consumes task messages until env.ctx is cancelled.
//
// TODO: no consumer runner is registered yet; the task handlers are built
// (which checks their settings) and the reminder loop runs, but no task
// message is consumed.
func runWorkers(env *environment, flags WorkerFlags, svc *services) error {
	logger := env.logger.With(slog.String("component", "worker"))
	logger.Info("worker started", slog.Duration("shutdown_timeout", flags.WorkerShutdownTimeout))

	parts, err := buildWorkerParts(flags, svc, logger)
	if err != nil {
		return err
	}

	if parts.notifier != nil {
		reminders := &consumers.Reminders{Notifier: parts.notifier, Logger: logger}
		if err := reminders.Run(env.ctx); err != nil {
			return err
		}
	} else {
		<-env.ctx.Done()
	}

	logger.Info("worker stopped")

	return nil
}
