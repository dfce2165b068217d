package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// scrape returns the value of the first line of /metrics that starts with series.
func scrape(t *testing.T, baseURL, series string) (string, error) {
	t.Helper()

	status, body := get(t, baseURL+"/metrics")
	if status != 200 {
		return "", fmt.Errorf("/metrics answered %d", status)
	}

	for line := range strings.SplitSeq(body, "\n") {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			return value, nil
		}
	}

	return "", fmt.Errorf("no series %s in /metrics", series)
}

func requireMetric(t *testing.T, baseURL, series, want string) {
	t.Helper()

	testenv.Eventually(t, 15*time.Second, func() error {
		got, err := scrape(t, baseURL, series)
		if err != nil {
			return err
		}

		if got != want {
			return fmt.Errorf("%s is %s, want %s", series, got, want)
		}

		return nil
	})
}

func TestMetricsFollowOperationsAndBroker(t *testing.T) {
	t.Parallel()

	amqpURL, err := url.Parse(testenv.AMQPURL(t))
	require.NoError(t, err)

	proxy := testenv.NewProxy(t, amqpURL.Host)
	amqpURL.Host = proxy.Addr

	s := startSystem(t, testenv.DatabaseURL(t), "--amqp-url", amqpURL.String())
	s.command(t, "seed")
	token := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	requireMetric(t, s.baseURL, `meetgraph_broker_connected{role="all"}`, "1")
	requireMetric(t, s.baseURL, `meetgraph_outbox_backlog`, "0")

	for range 3 {
		response := testenv.PostGraphQL(t, s.baseURL+"/query", token, `query Me { me { id } }`, nil)
		require.Empty(t, response.Errors)
	}

	requireMetric(t, s.baseURL,
		`meetgraph_graphql_operation_duration_seconds_count{operation_name="Me",operation_type="query"}`, "3")

	proxy.Cut()
	requireMetric(t, s.baseURL, `meetgraph_broker_connected{role="all"}`, "0")

	proxy.Restore()
	requireMetric(t, s.baseURL, `meetgraph_broker_connected{role="all"}`, "1")
}

// TestMetricsReportBlockedBroker runs before the parallel tests, alone,
// because its extra goroutines (a whole system, and one per scrape while
// the broker blocks) would count against the goroutine checks of other
// tests in this process.
func TestMetricsReportBlockedBroker(t *testing.T) {
	// A memory alarm blocks every publisher of a node, so the test raises
	// it on a node of its own rather than on the shared broker.
	node := testenv.StartRabbitMQNode(t)
	s := startSystem(t, testenv.DatabaseURL(t), "--amqp-url", node.URL)
	s.command(t, "seed")
	token := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	requireMetric(t, s.baseURL, `meetgraph_broker_blocked{role="all"}`, "0")

	node.RaiseMemoryAlarm()

	// RabbitMQ blocks the connection when the task's messages are published
	// after the mutation commits.
	data := graphQLData(t, s, token, requestNoop, map[string]any{"meeting": store.SeedID("meeting:planning").String()})
	require.Equal(t, "QUEUED", field(data, "requestAnalysis", "status"))

	// Each scrape reads queue depths from the broker, which reads nothing
	// from a blocked connection, so these also show that /metrics responds.
	requireMetric(t, s.baseURL, `meetgraph_broker_blocked{role="all"}`, "1")
	metricAtLeast(t, s.baseURL, `meetgraph_publish_failures_total{reason="blocked"}`, 1)

	// Queries and mutations still work, and every instance shares the
	// blocked broker, so readiness does not follow the alarm.
	status, body := get(t, s.baseURL+"/readyz")
	require.Equal(t, http.StatusOK, status, "readyz answered %s", body)

	node.ClearMemoryAlarm()

	requireMetric(t, s.baseURL, `meetgraph_broker_blocked{role="all"}`, "0")
	waitTaskStatus(t, s, token, field(data, "requestAnalysis", "id").(string), "SUCCEEDED")
}

func TestMetricsCountSubscriptions(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	gateway := sys.gateways[0]
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 2)

	client := dialWS(t, gateway.baseURL, "graphql-transport-ws", nil)
	client.init(sys.aliceToken)
	client.subscribe("subscribe", "1", taskUpdatedQuery, map[string]any{"id": taskID.String(), "after": 1})
	require.Equal(t, int64(2), eventSeq(t, client.next().Payload, "taskUpdated"))

	requireMetric(t, gateway.baseURL, `meetgraph_subscriptions_active{transport="graphql-transport-ws"}`, "1")

	sys.record(t, taskID, 2, 4)
	require.Equal(t, []int64{3, 4}, client.taskSeqs("1", "taskUpdated"))

	requireMetric(t, gateway.baseURL, `meetgraph_subscriptions_active{transport="graphql-transport-ws"}`, "0")
	requireMetric(t, gateway.baseURL, `meetgraph_subscription_ends_total{reason="completed"}`, "1")
}

// metricAtLeast waits until the series reaches at least want.
func metricAtLeast(t *testing.T, baseURL, series string, want float64) {
	t.Helper()

	testenv.Eventually(t, 20*time.Second, func() error {
		raw, err := scrape(t, baseURL, series)
		if err != nil {
			return err
		}

		got, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%s is %q: %w", series, raw, err)
		}

		if got < want {
			return fmt.Errorf("%s is %g, want at least %g", series, got, want)
		}

		return nil
	})
}

func TestMetricsFollowTasks(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	planning := map[string]any{"meeting": store.SeedID("meeting:planning").String()}

	noop := graphQLData(t, s, alice,
		`mutation ($meeting: ID!) { requestAnalysis(meetingId: $meeting, kind: NOOP) { id } }`, planning)
	waitTaskStatus(t, s, alice, field(noop, "requestAnalysis", "id").(string), "SUCCEEDED")

	requireMetric(t, s.baseURL, `meetgraph_tasks_submitted_total{kind="NOOP"}`, "1")
	requireMetric(t, s.baseURL, `meetgraph_tasks_processed_total{kind="NOOP",status="SUCCEEDED"}`, "1")
	metricAtLeast(t, s.baseURL, `meetgraph_publish_confirm_duration_seconds_count`, 2)
	metricAtLeast(t, s.baseURL, `meetgraph_queue_consumers{queue="ai.tasks"}`, 1)

	// A summary without a transcript is a poisoned task: it fails at once
	// and its message lands in the dead-letter queue.
	poisoned := graphQLData(t, s, alice,
		`mutation ($meeting: ID!) { requestAnalysis(meetingId: $meeting, kind: SUMMARY) { id } }`, planning)
	waitTaskStatus(t, s, alice, field(poisoned, "requestAnalysis", "id").(string), "FAILED")

	requireMetric(t, s.baseURL, `meetgraph_tasks_processed_total{kind="SUMMARY",status="FAILED"}`, "1")
	requireMetric(t, s.baseURL, `meetgraph_dead_letters_total{queue="ai.tasks"}`, "1")
	requireMetric(t, s.baseURL, `meetgraph_queue_messages{queue="ai.tasks.dlq"}`, "1")

	response := testenv.PostGraphQL(t, s.baseURL+"/query", alice,
		`{ meetings(first: 5) { edges { node { participants { user { name } } } } } }`, nil)
	require.Empty(t, response.Errors)
	metricAtLeast(t, s.baseURL, `meetgraph_dataloader_batch_size_count{loader="participants"}`, 1)
}
