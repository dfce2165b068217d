package store

import (
	"context"
	"fmt"
)

// Listen runs LISTEN channel on a connection of its own and calls handle
// with each notification's payload until ctx is cancelled (it then returns
// nil) or the connection fails. ready, when not nil, is called once the
// LISTEN is in place.
func (s *Store) Listen(ctx context.Context, channel string, ready func(), handle func(payload string)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection to listen on %s: %w", channel, err)
	}

	// The connection carries a LISTEN, so it must not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())

	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen on %s: %w", channel, err)
	}

	if ready != nil {
		ready()
	}

	for {
		notification, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}

		if err != nil {
			return fmt.Errorf("wait for notification on %s: %w", channel, err)
		}

		handle(notification.Payload)
	}
}
