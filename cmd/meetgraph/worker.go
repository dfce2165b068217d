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
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/store"
)

// WorkCmd runs the workers.
type WorkCmd struct {
	WorkerFlags `embed:""`
}

func (c *WorkCmd) Run(env *environment) error {
	svc, err := env.openMigratedServices("worker")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	parts := []func(context.Context) error{
		func(ctx context.Context) error { return runWorkers(env.withContext(ctx), c.WorkerFlags, svc) },
	}

	if c.MetricsAddr != "" {
		parts = append(parts, func(ctx context.Context) error {
			return runMetricsServer(env.withContext(ctx), c.MetricsAddr, svc)
		})
	}

	return runRoles(env, svc.dispatcher, parts...)
}

// AllCmd runs the gateway and the workers in one process.
type AllCmd struct {
	HTTPFlags   `embed:""`
	WorkerFlags `embed:""`
}

func (c *AllCmd) Run(env *environment) error {
	checked, err := checkGatewaySettings(env, c.HTTPFlags)
	if err != nil {
		return err
	}

	svc, err := env.openServices("all")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	if err := store.Migrate(env.ctx, svc.pool, env.logger); err != nil {
		return err
	}

	relay := outbox.NewRelay(svc.store, svc.publisher, env.outboxConfig(), env.logger)

	return runRoles(env, svc.dispatcher,
		relay.Run,
		func(ctx context.Context) error { return runGateway(env.withContext(ctx), c.HTTPFlags, checked, svc) },
		func(ctx context.Context) error { return runWorkers(env.withContext(ctx), c.WorkerFlags, svc) })
}

// runRoles runs each part until env.ctx is cancelled or one part returns,
// which stops the others: a part that fails at start-up must not leave the
// process half running. It returns the first error. The dispatcher starts
// first and stops last, so that what the parts commit while they shut
// down is still published at once.
func runRoles(env *environment, dispatcher *outbox.Dispatcher, parts ...func(ctx context.Context) error) error {
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(env.ctx))
	dispatched := make(chan error, 1)

	go func() { dispatched <- dispatcher.Run(dispatchCtx) }()

	group, ctx := errgroup.WithContext(env.ctx)
	for _, part := range parts {
		group.Go(func() error {
			err := part(ctx)
			if err == nil && env.ctx.Err() == nil {
				return errPartEnded
			}

			return err
		})
	}

	err := group.Wait()
	if errors.Is(err, errPartEnded) {
		err = nil
	}

	stopDispatch()

	return errors.Join(err, <-dispatched)
}

// errPartEnded cancels the other parts when one returns before shutdown
// without an error.
var errPartEnded = errors.New("a part of the process ended")

// withContext returns a copy of env that runs under ctx.
func (env *environment) withContext(ctx context.Context) *environment {
	copied := *env
	copied.ctx = ctx

	return &copied
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

// runWorkers consumes task messages, and meeting events for e-mail when
// SMTP is set, until env.ctx is cancelled, then drains in-flight tasks for
// the worker shutdown timeout.
func runWorkers(env *environment, flags WorkerFlags, svc *services) error {
	logger := env.logger.With(slog.String("component", "worker"))
	logger.Info("worker started", slog.Duration("shutdown_timeout", flags.WorkerShutdownTimeout))

	parts, err := buildWorkerParts(flags, svc, logger)
	if err != nil {
		return err
	}

	runner := consumers.NewRunner(svc.broker, svc.publisher, svc.store, consumers.RunnerConfig{
		Prefetch:        flags.WorkerPrefetch,
		Topology:        env.topologySettings(),
		Lease:           flags.TaskLease,
		ShutdownTimeout: flags.WorkerShutdownTimeout,
		Metrics:         svc.metrics,
	}, logger)
	runner.Register(consumers.KindNoop, consumers.Noop)

	for kind, handler := range parts.handlers {
		runner.Register(kind, handler)
	}

	group, ctx := errgroup.WithContext(env.ctx)
	group.Go(func() error { return runner.Run(ctx) })

	if parts.notifier != nil {
		reminders := &consumers.Reminders{Notifier: parts.notifier, Logger: logger}
		notifications := &consumers.NotificationQueueConsumer{
			Supervisor: svc.broker, Notifier: parts.notifier, Logger: logger,
		}

		group.Go(func() error { return reminders.Run(ctx) })
		group.Go(func() error { return notifications.Run(ctx) })
	}

	err = group.Wait()

	logger.Info("worker stopped")

	return err
}
