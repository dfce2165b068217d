package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/server"
	"github.com/meetgraph/meetgraph/store"
	"github.com/meetgraph/meetgraph/tracing"
)

// services are the connections that the gateway and the workers share.
type services struct {
	pool    *pgxpool.Pool
	store   *store.Store
	broker  *broker.Supervisor
	objects *media.ObjectStore
	metrics *metrics.Metrics
	// stopTracing flushes the spans not yet exported.
	stopTracing func(context.Context) error
	// publisher and dispatcher publish outbox messages right after commit.
	publisher  *broker.Publisher
	dispatcher *outbox.Dispatcher
}

// openServices starts tracing when an OTLP endpoint is set, then connects
// to PostgreSQL, RabbitMQ and the object store, in that order, and closes
// what it opened when a later one fails.
func (env *environment) openServices(role string) (*services, error) {
	if err := checkDurations(env.globals); err != nil {
		return nil, err
	}

	stopTracing, err := tracing.Setup(env.ctx, env.globals.OTLPEndpoint, "meetgraph-"+role)
	if err != nil {
		return nil, fmt.Errorf("MEETGRAPH_OTLP_ENDPOINT (--otlp-endpoint): %w", err)
	}

	pool, err := env.openDatabase()
	if err != nil {
		return nil, err
	}

	supervisor, err := env.openBroker(role)
	if err != nil {
		pool.Close()

		return nil, err
	}

	objects, err := env.openObjectStore()
	if err != nil {
		_ = supervisor.Close()
		pool.Close()

		return nil, err
	}

	svc := &services{
		pool: pool, store: store.New(pool), broker: supervisor, objects: objects,
		metrics: metrics.New(), stopTracing: stopTracing,
	}
	svc.metrics.WatchBroker(role, supervisor.Connected)
	svc.metrics.WatchOutbox(svc.store, env.logger)

	if err := env.openMessaging(svc); err != nil {
		svc.close(env.logger)

		return nil, err
	}

	svc.metrics.WatchBrokerBlocked(role, svc.publisher.Blocked, svc.publisher.BlockedPublishes)

	return svc, nil
}

// topologySettings returns the topology that the flags describe.
func (env *environment) topologySettings() broker.TopologySettings {
	return broker.TopologySettings{
		RetryDelays:   env.globals.RetryDelays,
		DeliveryLimit: env.globals.DeliveryLimit,
	}
}

// checkDurations rejects shared durations out of their range. A publish
// timeout or poll interval of 0 used to fall back to its default without a
// word, and negative values were used as given.
func checkDurations(globals *Globals) error {
	return checkDurationSettings(
		durationSetting{"MEETGRAPH_PUBLISH_TIMEOUT", "publish-timeout", globals.PublishTimeout, false},
		durationSetting{"MEETGRAPH_OUTBOX_POLL_INTERVAL", "outbox-poll-interval", globals.OutboxPollInterval, false},
		durationSetting{"MEETGRAPH_JWT_LEEWAY", "jwt-leeway", globals.JWTLeeway, true},
	)
}

// durationSetting is a duration flag with the environment variable that
// sets it too.
type durationSetting struct {
	env, flag string
	value     time.Duration
	// allowZero accepts 0, which turns a tolerance such as the JWT leeway off.
	allowZero bool
}

// checkDurationSettings returns an error naming the first setting that is
// negative, or 0 without allowZero.
func checkDurationSettings(settings ...durationSetting) error {
	for _, setting := range settings {
		switch {
		case setting.value < 0 && setting.allowZero:
			return fmt.Errorf("%s (--%s) is %s: it must not be negative", setting.env, setting.flag, setting.value)
		case setting.value <= 0 && !setting.allowZero:
			return fmt.Errorf("%s (--%s) is %s: it must be more than 0", setting.env, setting.flag, setting.value)
		}
	}

	return nil
}

// openMessaging declares the topology on every connection and sets up the
// publisher that sends each committed outbox message at once.
func (env *environment) openMessaging(svc *services) error {
	flags := env.globals.MessagingFlags
	if flags.OutboxGrace <= flags.PublishTimeout {
		return fmt.Errorf("MEETGRAPH_OUTBOX_GRACE (--outbox-grace) is %s: it must exceed --publish-timeout (%s), "+
			"or the relay may publish a message whose first publish is still waiting for its confirm",
			flags.OutboxGrace, flags.PublishTimeout)
	}

	topology := broker.NewTopology(env.topologySettings())

	err := svc.broker.OnConnect(func(conn *amqp.Connection) error { return topology.Declare(conn, env.logger) })
	if err != nil {
		return fmt.Errorf("MEETGRAPH_AMQP_URL (--amqp-url): %w", err)
	}

	svc.publisher, err = broker.NewPublisher(svc.broker, flags.PublishTimeout, env.logger)
	if err != nil {
		return err
	}

	svc.publisher.ObserveWith(svc.metrics)
	svc.store.ObserveTasksWith(svc.metrics.TaskSubmitted)
	svc.metrics.WatchQueues(svc.broker, observedQueues(), env.logger)

	svc.dispatcher = outbox.NewDispatcher(svc.store, svc.publisher, env.outboxConfig(), env.logger)
	svc.store.SetOutboxGrace(flags.OutboxGrace)
	svc.store.SetOutboxNotifier(svc.dispatcher.Notify)

	return nil
}

func (env *environment) outboxConfig() outbox.Config {
	return outbox.Config{
		PollInterval: env.globals.OutboxPollInterval,
		MaxQueueAge:  env.globals.OutboxGrace - env.globals.PublishTimeout,
	}
}

// openMigratedServices is openServices for the roles that do not migrate
// themselves: it fails when the database lacks a migration.
func (env *environment) openMigratedServices(role string) (*services, error) {
	svc, err := env.openServices(role)
	if err != nil {
		return nil, err
	}

	if err := store.RequireMigrated(env.ctx, svc.pool); err != nil {
		svc.close(env.logger)

		return nil, err
	}

	return svc, nil
}

// close releases the connections, broker first so that no delivery arrives
// for a database that is already gone.
func (s *services) close(logger *slog.Logger) {
	if err := s.broker.Close(); err != nil {
		logger.Warn("closing broker connection failed", slog.Any("error", err))
	}

	s.pool.Close()
	logger.Info("database pool closed")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := s.stopTracing(ctx); err != nil {
		logger.Warn("flushing traces failed", slog.Any("error", err))
	}
}

// observedQueues are the queues whose depth and consumers /metrics reports:
// each work queue, its dead-letter queue, and the notifications queue.
func observedQueues() []string {
	queues := []string{broker.NotificationsQueue}
	for _, kind := range broker.QueueKinds {
		queues = append(queues, broker.WorkQueue(kind), broker.DeadLetterQueue(kind))
	}

	return queues
}

// readinessChecks returns the checks that /readyz probes: each backing service by name.
func (s *services) readinessChecks() []server.Check {
	return []server.Check{
		{Name: "postgres", Probe: s.pool.Ping},
		{Name: "rabbitmq", Probe: func(context.Context) error {
			if !s.broker.Connected() {
				return errors.New("not connected")
			}

			return nil
		}},
		{Name: "s3", Probe: s.objects.Ping},
	}
}
