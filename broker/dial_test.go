package broker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

func TestDialSilentServerTimesOut(t *testing.T) {
	t.Parallel()

	addr := testenv.SilentServer(t)
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

	addr := testenv.SilentServer(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()

	_, err := broker.Dial(ctx, broker.Config{URL: "amqp://guest:guest@" + addr + "/", DialTimeout: time.Minute}, logger)

	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "a cancelled start-up must interrupt the handshake")
}
