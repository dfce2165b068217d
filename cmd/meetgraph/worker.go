package main

import (
	"context"
	"errors"
	"log/slog"

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
	svc, err := env.openServices("worker")
	if err != nil {
		return err
	}
	defer svc.close(env.logger)

	return runRoles(env, svc.dispatcher,
		func(ctx context.Context) error { return runWorkers(env.withContext(ctx), c.WorkerFlags, svc) })
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

	relay := outbox.NewRelay(svc.store, svc.publisher, env.outboxConfig(), env.logger)

	return runRoles(env, svc.dispatcher,
		relay.Run,
		func(ctx context.Context) error { return runGateway(env.withContext(ctx), c.HTTPFlags, svc) },
		func(ctx context.Context) error { return runWorkers(env.withContext(ctx), c.WorkerFlags, svc) })
}

// runRoles runs each part until env.ctx is cancelled or one of them fails,
// which stops the others. The dispatcher starts first and stops last, so
// that what the parts commit while they shut down is still published at once.
func runRoles(env *environment, dispatcher *outbox.Dispatcher, parts ...func(ctx context.Context) error) error {
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(env.ctx))
	dispatched := make(chan error, 1)

	go func() { dispatched <- dispatcher.Run(dispatchCtx) }()

	group, ctx := errgroup.WithContext(env.ctx)
	for _, part := range parts {
		group.Go(func() error { return part(ctx) })
	}

	err := group.Wait()

	stopDispatch()

	return errors.Join(err, <-dispatched)
}

// withContext returns a copy of env that runs under ctx.
func (env *environment) withContext(ctx context.Context) *environment {
	copied := *env
	copied.ctx = ctx

	return &copied
}

// runWorkers consumes task messages until env.ctx is cancelled, then
// drains in-flight tasks for the worker shutdown timeout.
func runWorkers(env *environment, flags WorkerFlags, svc *services) error {
	logger := env.logger.With(slog.String("component", "worker"))
	logger.Info("worker started", slog.Duration("shutdown_timeout", flags.WorkerShutdownTimeout))

	runner := consumers.NewRunner(svc.broker, svc.publisher, svc.store, consumers.RunnerConfig{
		Prefetch:        flags.WorkerPrefetch,
		Topology:        env.topologySettings(),
		Lease:           flags.TaskLease,
		ShutdownTimeout: flags.WorkerShutdownTimeout,
	}, logger)
	runner.Register(consumers.KindNoop, consumers.Noop)

	err := runner.Run(env.ctx)

	logger.Info("worker stopped")

	return err
}
