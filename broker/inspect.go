package broker

import (
	"context"
	"fmt"
)

// InspectQueue returns how many messages are ready in queue and how many
// consumers it has. It uses a passive declare on a channel of its own,
// because the broker closes the channel when the queue does not exist.
func (s *Supervisor) InspectQueue(ctx context.Context, queue string) (messages, consumers int, err error) {
	channel, err := s.Channel()
	if err != nil {
		return 0, 0, err
	}
	defer channel.Close()

	type result struct {
		messages, consumers int
		err                 error
	}

	done := make(chan result, 1)

	go func() {
		q, err := channel.QueueDeclarePassive(queue, false, false, false, false, nil)
		done <- result{q.Messages, q.Consumers, err}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return 0, 0, fmt.Errorf("inspect queue %s: %w", queue, r.err)
		}

		return r.messages, r.consumers, nil
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("inspect queue %s: %w", queue, ctx.Err())
	}
}
