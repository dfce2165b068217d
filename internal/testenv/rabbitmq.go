package testenv

import (
	"net/url"
	"os/exec"
	"testing"
)

// VHost creates a RabbitMQ virtual host for this test, grants the test user
// every permission on it, deletes it when the test ends, and returns an
// AMQP URL for it. Queues and exchanges with fixed names then cannot clash
// between tests that run in parallel. It runs rabbitmqctl, so the tests
// must run on the broker's machine as a user that may administer it.
func VHost(t testing.TB) string {
	t.Helper()

	base := AMQPURL(t)

	parsed, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse MEETGRAPH_TEST_AMQP_URL: %v", err)
	}

	user := parsed.User.Username()
	vhost := "meetgraph-test-" + RandomSuffix()

	rabbitmqctl(t, "add_vhost", vhost)
	t.Cleanup(func() { rabbitmqctl(t, "delete_vhost", vhost) })
	rabbitmqctl(t, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")

	parsed.Path = "/" + vhost

	return parsed.String()
}

// CloseBrokerConnections closes every client connection to vhost from the
// broker's side, as an operator or a broker restart would.
func CloseBrokerConnections(t testing.TB, amqpURL string) {
	t.Helper()

	parsed, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("parse AMQP URL: %v", err)
	}

	vhost := parsed.Path
	if len(vhost) > 1 {
		vhost = vhost[1:]
	}

	rabbitmqctl(t, "close_all_connections", "-p", vhost, "closed by a test")
}

func rabbitmqctl(t testing.TB, args ...string) {
	t.Helper()

	output, err := exec.Command("rabbitmqctl", append([]string{"--quiet"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, output)
	}
}
