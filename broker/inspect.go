package broker

import (
	"context"
	"fmt"
)

// InspectQueue returns how many messages are ready in queue and how many
// consumers it has. It uses a passive declare on a channel of its own,
// because the broker closes the channel when the queue does not exist.
//
// ctx bounds the whole call. A broker that has blocked the connection reads
// nothing from it, so opening, using and closing the channel may each wait
// until the broker unblocks the connection or closes it. A call that gives
// up leaves a goroutine behind until then.
func (s *Supervisor) InspectQueue(ctx context.Context, queue string) (messages, consumers int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("inspect queue %s: %w", queue, err)
	}

	type result struct {
		messages, consumers int
		err                 error
	}

	done := make(chan result, 1)

	go func() {
		channel, err := s.Channel()
		if err != nil {
			done <- result{err: err}

			return
		}
		defer channel.Close()

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
