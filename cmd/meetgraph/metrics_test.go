package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
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
