// Package metrics defines meetgraph's Prometheus metrics in one registry,
// so that the gateway and the workers expose the same names at /metrics.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "meetgraph"

// maxOperationNames bounds the operation_name label: names beyond the
// first this many distinct ones are counted as "other", so that clients
// cannot grow the number of series without limit.
const maxOperationNames = 200

// Metrics holds every collector that meetgraph's code updates directly.
// Gauges that are read when Prometheus scrapes (broker state, queue depth,
// outbox backlog) are registered with the Watch methods.
type Metrics struct {
	registry *prometheus.Registry

	TasksSubmitted      *prometheus.CounterVec
	TasksProcessed      *prometheus.CounterVec
	TaskRetries         *prometheus.CounterVec
	DeadLetters         *prometheus.CounterVec
	PublishFailures     *prometheus.CounterVec
	PublishConfirm      prometheus.Histogram
	OperationDuration   *prometheus.HistogramVec
	LoaderBatchSize     *prometheus.HistogramVec
	SubscriptionsActive *prometheus.GaugeVec
	SubscriptionEnds    *prometheus.CounterVec

	namesMu        sync.Mutex
	operationNames map[string]struct{}
}

// New creates the collectors and registers them, with the Go runtime and
// process collectors, on a registry of their own.
func New() *Metrics {
	m := &Metrics{
		registry:       prometheus.NewRegistry(),
		operationNames: map[string]struct{}{},

		TasksSubmitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tasks_submitted_total",
			Help: "Tasks accepted by a mutation, by task kind.",
		}, []string{"kind"}),
		TasksProcessed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tasks_processed_total",
			Help: "Task attempts finished by a worker, by task kind and resulting status.",
		}, []string{"kind", "status"}),
		TaskRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "task_retries_total",
			Help: "Task messages sent to a retry queue after a retryable failure, by work queue.",
		}, []string{"queue"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "dead_letters_total",
			Help: "Task messages dead-lettered, by work queue.",
		}, []string{"queue"}),
		PublishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "publish_failures_total",
			Help: "Publishes that the broker did not confirm, by reason (timeout, returned, nacked, blocked).",
		}, []string{"reason"}),
		PublishConfirm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "publish_confirm_duration_seconds",
			Help:    "Time from publishing a message to the broker's confirm.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		OperationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "graphql_operation_duration_seconds",
			Help:    "GraphQL operation run time, by operation type and name (\"other\" past a fixed number of names).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation_type", "operation_name"}),
		LoaderBatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dataloader_batch_size",
			Help:    "Keys per dataloader batch, by loader.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}, []string{"loader"}),
		SubscriptionsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "subscriptions_active",
			Help: "Open subscriptions, by transport.",
		}, []string{"transport"}),
		SubscriptionEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "subscription_ends_total",
			Help: "Subscriptions that ended, by reason (completed, client, error, shutdown).",
		}, []string{"reason"}),
	}

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.TasksSubmitted, m.TasksProcessed, m.TaskRetries, m.DeadLetters,
		m.PublishFailures, m.PublishConfirm,
		m.OperationDuration, m.LoaderBatchSize, m.SubscriptionsActive, m.SubscriptionEnds,
	)

	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry returns the registry, for collectors that other packages own.
func (m *Metrics) Registry() *prometheus.Registry {
	return m.registry
}

// OperationName returns name as a label value: "anonymous" for an unnamed
// operation, and "other" once maxOperationNames distinct names were seen.
func (m *Metrics) OperationName(name string) string {
	if name == "" {
		return "anonymous"
	}

	m.namesMu.Lock()
	defer m.namesMu.Unlock()

	if _, ok := m.operationNames[name]; ok {
		return name
	}

	if len(m.operationNames) >= maxOperationNames {
		return "other"
	}

	m.operationNames[name] = struct{}{}

	return name
}
