package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

// unpublished returns how many outbox rows wait to be published.
func unpublished(t *testing.T, h *asynctest.Harness) int {
	t.Helper()

	count, _, err := h.DB.OutboxBacklog(context.Background())
	require.NoError(t, err)

	return count
}

func TestRelayPublishesWhatACrashLeft(t *testing.T) {
	t.Parallel()

	// Without a dispatcher nothing is published after commit, which is the
	// state a process leaves when it dies between commit and publish.
	crashed := asynctest.Start(t, asynctest.Options{NoRunner: true, NoDispatcher: true, NoRelay: true})
	task := crashed.Request(t, "NOOP")
	require.Equal(t, 2, unpublished(t, crashed), "the task message and its QUEUED event")
	require.Equal(t, 0, crashed.QueueDepth(t, "ai.tasks"))

	// The relay of the restarted process publishes both after the grace period.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- crashed.Relay.Run(ctx) }()

	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	crashed.WaitDepth(t, "ai.tasks", 1)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := unpublished(t, crashed); n != 0 {
			return fmt.Errorf("%d outbox rows unpublished", n)
		}

		return nil
	})
	require.Equal(t, "QUEUED", crashed.WaitStatus(t, task.ID, "QUEUED").Status)
}

func TestUnroutablePublishStaysInOutbox(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{NoRunner: true})

	ch, err := h.Supervisor.Channel()
	require.NoError(t, err)
	defer ch.Close()
	require.NoError(t, ch.QueueUnbind("ai.tasks", "ai", "meetgraph.tasks", nil))

	h.Request(t, "NOOP")

	// The relay keeps retrying with backoff and counts each failure.
	testenv.Eventually(t, 10*time.Second, func() error {
		if failed := h.Relay.Stats().Failed.Load(); failed < 2 {
			return fmt.Errorf("relay counted %d failed publishes, want at least 2", failed)
		}

		return nil
	})
	require.Equal(t, 1, unpublished(t, h), "the unroutable task message must stay in the outbox")
	require.Positive(t, h.Dispatcher.Stats().Failed.Load())

	require.NoError(t, ch.QueueBind("ai.tasks", "ai", "meetgraph.tasks", false, nil))
	h.WaitDepth(t, "ai.tasks", 1)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := unpublished(t, h); n != 0 {
			return fmt.Errorf("%d outbox rows unpublished", n)
		}

		return nil
	})

	time.Sleep(time.Second)
	require.Equal(t, 1, h.QueueDepth(t, "ai.tasks"), "published exactly once")
}

func TestBrokerDownMutationsCommit(t *testing.T) {
	t.Parallel()

	var proxy *testenv.Proxy

	h := asynctest.Start(t, asynctest.Options{NoRunner: true, AMQPURL: func(vhostURL string) string {
		parsed, err := url.Parse(vhostURL)
		require.NoError(t, err)

		proxy = testenv.NewProxy(t, parsed.Host)
		parsed.Host = proxy.Addr

		return parsed.String()
	}})

	proxy.Cut()
	testenv.Eventually(t, 10*time.Second, func() error {
		if h.Supervisor.Connected() {
			return errors.New("still connected")
		}

		return nil
	})

	const tasks = 20
	for range tasks {
		task := h.Request(t, "NOOP")
		require.Equal(t, "QUEUED", task.Status)
	}

	require.Equal(t, 2*tasks, unpublished(t, h))

	proxy.Restore()
	h.WaitDepth(t, "ai.tasks", tasks)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := unpublished(t, h); n != 0 {
			return fmt.Errorf("%d outbox rows unpublished", n)
		}

		return nil
	})

	time.Sleep(time.Second)
	require.Equal(t, tasks, h.QueueDepth(t, "ai.tasks"), "each message published exactly once")
}

func TestDispatcherLeavesStaleMessagesToRelay(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{NoRunner: true, NoDispatcher: true, NoRelay: true})
	h.DB.SetOutboxNotifier(h.Dispatcher.Notify)
	h.Request(t, "NOOP")

	// The messages wait in the dispatcher's queue past its one-second
	// maximum age, so the relay may be publishing them by now.
	time.Sleep(1200 * time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- h.Dispatcher.Run(ctx) }()

	time.Sleep(500 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	require.Equal(t, 2, unpublished(t, h))
	require.Equal(t, 0, h.QueueDepth(t, "ai.tasks"))
}
