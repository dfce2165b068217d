package main

import (
	"log/slog"

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

	return runWorkers(env, c.WorkerFlags, svc)
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
