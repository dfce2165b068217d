package events

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
)

// ReplayFunc returns a task's stored events with a sequence number greater
// than afterSeq, in order.
type ReplayFunc func(ctx context.Context, afterSeq int64) ([]*TaskEvent, error)

// TaskStream yields one task's events in sequence order, each once: first
// the stored events after a starting point, then live ones from the hub.
// It subscribes before it reads the store, so an event that is committed
// while the replay runs arrives live and is not lost. An event seen both
// ways is dropped by its sequence number. A gap in the live sequence (an
// event lost while the broker connection was replaced, or published out of
// order) is filled from the store.
type TaskStream struct {
	subscription *Subscription
	replay       ReplayFunc

	// lastSeq is the sequence number of the last event returned by Next.
	lastSeq int64
	// ready holds events in sequence order that Next returns before
	// taking more from the subscription.
	ready []*TaskEvent
	// gap is set when live events skipped a sequence number, which a read
	// of the store fills before ready is returned.
	gap  bool
	done bool
}

// ErrStoreReadNeeded is returned by TaskStream.Poll when the next event
// needs a read of the store and the caller did not allow one.
var ErrStoreReadNeeded = errors.New("the next task event needs a read of the store")

// OpenTaskStream subscribes to taskID and replays its stored events after
// afterSeq. On error nothing stays subscribed.
func (h *Hub) OpenTaskStream(ctx context.Context, taskID uuid.UUID, afterSeq int64, replay ReplayFunc) (*TaskStream, error) {
	stream := &TaskStream{subscription: h.SubscribeTask(taskID), replay: replay, lastSeq: afterSeq}

	stored, err := replay(ctx, afterSeq)
	if err != nil {
		stream.Close()

		return nil, fmt.Errorf("replay events of task %s after %d: %w", taskID, afterSeq, err)
	}

	stream.ready = stored

	return stream, nil
}

// Next returns the next event. It returns io.EOF after the terminal event,
// ErrHubClosed when the hub closed, and ctx's error when ctx ends first.
func (s *TaskStream) Next(ctx context.Context) (*TaskEvent, error) {
	for {
		event, err := s.Poll(ctx, true)
		if event != nil || err != nil {
			return event, err
		}

		select {
		case <-s.subscription.Wait():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Notify makes the stream call fn when live events arrive or the hub
// closes, in the publisher's goroutine; see Subscription.Notify.
func (s *TaskStream) Notify(fn func()) {
	s.subscription.Notify(fn)
}

// Poll returns the next event without waiting, or nil when none is pending.
// It returns io.EOF after the terminal event and ErrHubClosed when the hub
// closed. With readStore false it returns ErrStoreReadNeeded instead of
// reading the store to fill a gap; a later call with readStore true does.
func (s *TaskStream) Poll(ctx context.Context, readStore bool) (*TaskEvent, error) {
	for {
		if s.gap {
			if !readStore {
				return nil, ErrStoreReadNeeded
			}

			if err := s.refill(ctx); err != nil {
				return nil, err
			}

			s.gap = false
		}

		if event := s.popReady(); event != nil {
			return event, nil
		}

		if s.done {
			return nil, io.EOF
		}

		messages, err := s.subscription.Take()
		if err != nil || len(messages) == 0 {
			return nil, err
		}

		s.accept(messages)
	}
}

func (s *TaskStream) popReady() *TaskEvent {
	for len(s.ready) > 0 {
		event := s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]

		if event.Seq <= s.lastSeq {
			continue
		}

		s.lastSeq = event.Seq
		s.done = event.Terminal()

		return event
	}

	return nil
}

// accept appends live messages to ready, and sets gap when they leave a
// gap after the events already known.
func (s *TaskStream) accept(messages []Message) {
	expected := s.lastSeq
	if n := len(s.ready); n > 0 {
		expected = s.ready[n-1].Seq
	}

	for _, m := range messages {
		switch {
		case m.Resync:
			s.gap = true
		case m.Task == nil || m.Task.Seq <= expected:
		case m.Task.Seq > expected+1 && !m.Coalesced:
			s.gap = true
			s.ready = append(s.ready, m.Task)
			expected = m.Task.Seq
		default:
			s.ready = append(s.ready, m.Task)
			expected = m.Task.Seq
		}
	}
}

// refill replaces ready with the stored events after lastSeq followed by
// the newer live ones already in ready. Every live event was committed
// before it was published, so the store has them all up to the last one.
func (s *TaskStream) refill(ctx context.Context) error {
	stored, err := s.replay(ctx, s.lastSeq)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}

		return fmt.Errorf("fill gap in task events after %d: %w", s.lastSeq, err)
	}

	var newest int64
	if n := len(stored); n > 0 {
		newest = stored[n-1].Seq
	}

	for _, event := range s.ready {
		if event.Seq > newest {
			stored = append(stored, event)
			newest = event.Seq
		}
	}

	s.ready = stored

	return nil
}

// Close unsubscribes. It is safe to call more than once.
func (s *TaskStream) Close() {
	s.subscription.Close()
}
