package broker_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
)

// silentServer accepts connections and never replies, like a firewall that
// swallows traffic or a non-AMQP service on the port.
func silentServer(t *testing.T) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })

	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}

			t.Cleanup(func() { _ = conn.Close() })
		}
	}()

	return listener.Addr().String()
}

func TestDialSilentServerTimesOut(t *testing.T) {
	t.Parallel()

	addr := silentServer(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()

	_, err := broker.Dial(context.Background(), broker.Config{
		URL: "amqp://guest:guest@" + addr + "/", DialTimeout: 300 * time.Millisecond,
	}, logger)

	require.Error(t, err)
	require.ErrorContains(t, err, addr)
	require.Less(t, time.Since(start), 5*time.Second, "the AMQP handshake must be bounded by the dial timeout")
}

func TestDialSilentServerStopsWithContext(t *testing.T) {
	t.Parallel()

	addr := silentServer(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()

	_, err := broker.Dial(ctx, broker.Config{URL: "amqp://guest:guest@" + addr + "/", DialTimeout: time.Minute}, logger)

	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "a cancelled start-up must interrupt the handshake")
}
