package testenv

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func TestVHostIsolatesQueues(t *testing.T) {
	t.Parallel()

	amqpURL := VHost(t)

	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)

	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	channel, err := conn.Channel()
	require.NoError(t, err)

	_, err = channel.QueueDeclare("probe", false, true, false, false, nil)
	require.NoError(t, err)

	CloseBrokerConnections(t, amqpURL)

	require.NotNil(t, <-closed, "the broker should close the connection with a reason")
}
