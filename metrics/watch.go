package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the broker and database reads made during a scrape,
// so that a hung dependency cannot hang /metrics.
const scrapeTimeout = 3 * time.Second

// WatchBroker reports connected() as meetgraph_broker_connected{role}.
func (m *Metrics) WatchBroker(role string, connected func() bool) {
	m.registry.MustRegister(flagGauge("broker_connected",
		"1 while the process holds an open RabbitMQ connection, else 0, by role.", role, connected))
}

// WatchBrokerBlocked reports blocked() as meetgraph_broker_blocked{role}
// and waiting() as meetgraph_blocked_publishes{role}.
func (m *Metrics) WatchBrokerBlocked(role string, blocked func() bool, waiting func() int) {
	m.registry.MustRegister(flagGauge("broker_blocked",
		"1 while RabbitMQ blocks the process's publishing connection (memory or disk alarm), else 0, by role.",
		role, blocked), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace:   namespace,
		Name:        "blocked_publishes",
		Help:        "Publishes that wait for RabbitMQ to unblock the connection, by role.",
		ConstLabels: prometheus.Labels{"role": role},
	}, func() float64 {
		return float64(waiting())
	}))
}

// flagGauge returns a gauge of the role that reads 1 while value() is true, else 0.
func flagGauge(name, help, role string, value func() bool) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace:   namespace,
		Name:        name,
		Help:        help,
		ConstLabels: prometheus.Labels{"role": role},
	}, func() float64 {
		if value() {
			return 1
		}

		return 0
	})
}

// QueueInspector reads a queue's ready messages and consumers from the broker.
type QueueInspector interface {
	InspectQueue(ctx context.Context, name string) (messages, consumers int, err error)
}

// OutboxInspector reads how many outbox rows wait and how old the oldest is.
type OutboxInspector interface {
	OutboxBacklog(ctx context.Context) (count int, oldest time.Duration, err error)
}

// WatchQueues reports each queue's depth and consumer count at every scrape.
// A queue that cannot be read is left out of that scrape and logged.
func (m *Metrics) WatchQueues(inspector QueueInspector, queues []string, logger *slog.Logger) {
	m.registry.MustRegister(&queueCollector{inspector: inspector, queues: queues, logger: logger})
}

// WatchOutbox reports the outbox backlog at every scrape.
func (m *Metrics) WatchOutbox(inspector OutboxInspector, logger *slog.Logger) {
	m.registry.MustRegister(&outboxCollector{inspector: inspector, logger: logger})
}

var (
	queueMessagesDesc = prometheus.NewDesc(namespace+"_queue_messages",
		"Messages ready in a RabbitMQ queue, read from the broker at scrape time.", []string{"queue"}, nil)
	queueConsumersDesc = prometheus.NewDesc(namespace+"_queue_consumers",
		"Consumers of a RabbitMQ queue, read from the broker at scrape time.", []string{"queue"}, nil)
	outboxBacklogDesc = prometheus.NewDesc(namespace+"_outbox_backlog",
		"Outbox messages not yet confirmed by the broker.", nil, nil)
	outboxOldestDesc = prometheus.NewDesc(namespace+"_outbox_oldest_age_seconds",
		"Age of the oldest unpublished outbox message in seconds, 0 when there is none.", nil, nil)
)

type queueCollector struct {
	inspector QueueInspector
	queues    []string
	logger    *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueMessagesDesc
	ch <- queueConsumersDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()

	for _, queue := range c.queues {
		messages, consumers, err := c.inspector.InspectQueue(ctx, queue)
		if err != nil {
			c.logger.Warn("read queue for metrics failed", slog.String("queue", queue), slog.Any("error", err))

			continue
		}

		ch <- prometheus.MustNewConstMetric(queueMessagesDesc, prometheus.GaugeValue, float64(messages), queue)
		ch <- prometheus.MustNewConstMetric(queueConsumersDesc, prometheus.GaugeValue, float64(consumers), queue)
	}
}

type outboxCollector struct {
	inspector OutboxInspector
	logger    *slog.Logger
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxBacklogDesc
	ch <- outboxOldestDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()

	count, oldest, err := c.inspector.OutboxBacklog(ctx)
	if err != nil {
		c.logger.Warn("read outbox backlog for metrics failed", slog.Any("error", err))

		return
	}

	ch <- prometheus.MustNewConstMetric(outboxBacklogDesc, prometheus.GaugeValue, float64(count))
	ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, oldest.Seconds())
}
