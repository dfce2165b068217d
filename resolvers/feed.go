package resolvers

import (
	"context"
	"sync"
)

// eventSource yields the values of one subscription for a feed. Only the
// feed's current runner calls it, so it needs no locking of its own.
type eventSource[T any] interface {
	// next returns the next value, or nil when none is pending. It returns
	// io.EOF after the last value and events.ErrHubClosed at shutdown. With
	// mayBlock false it returns events.ErrStoreReadNeeded instead of doing
	// I/O.
	next(ctx context.Context, mayBlock bool) (*T, error)
	// sent reports that the value from the last next call reached gqlgen.
	sent()
	// close unsubscribes and releases what the source holds. It runs once,
	// outside the hub's lock.
	close()
}

// feed moves a subscription's values into the buffered channel that gqlgen
// reads, with no goroutine of its own while the subscription is idle. The
// hub calls wake after each delivery, in the publisher's goroutine, and
// wake starts a goroutine that exits once nothing is pending. While the
// channel is full the hub's mailbox keeps every status change and terminal
// event and coalesces progress events.
type feed[T any] struct {
	ctx    context.Context
	out    chan *T
	source eventSource[T]
	// onEnd, when set, runs after the source closed with the error that
	// ended it: io.EOF after the last value, or the cause of an early end.
	onEnd func(error)
	// logPanic logs a panic in the source, which then ends the feed.
	logPanic func(value any)
	// stopWatch cancels the call of wake at the end of ctx.
	stopWatch func() bool

	mu sync.Mutex
	// running is set while one caller moves values; it stays set after the
	// feed ended, so that nothing runs again.
	running bool
	// again is set when wake was called during a run, which then goes on.
	again bool

	// unsent is a value taken from the source that did not fit into out
	// yet. Only the runner uses it.
	unsent *T
}

// startFeed returns the channel of source's values, of capacity size, and
// moves the values that are already pending, such as stored events replayed
// at the start. The feed ends when the source ends or ctx ends. notify must
// make the source call the wake function that it gets after each delivery.
func startFeed[T any](ctx context.Context, size int, source eventSource[T],
	notify func(wake func()), onEnd func(error), logPanic func(value any),
) <-chan *T {
	// The caller is the first runner, so a wake during the set-up only
	// marks that there is more to take.
	f := &feed[T]{ctx: ctx, out: make(chan *T, size), source: source, onEnd: onEnd, logPanic: logPanic, running: true}
	f.stopWatch = context.AfterFunc(ctx, f.wake)
	notify(f.wake)
	f.runNow()

	return f.out
}

// wake starts a goroutine that moves the pending values, unless a run is in
// progress, which then goes on to take them too. It never blocks. The
// publisher only starts the goroutine, because moving the values in its own
// goroutine would do the work of every subscriber one after the other.
func (f *feed[T]) wake() {
	if f.acquire() {
		go f.runInBackground()
	}
}

// runNow moves the pending values in the caller's goroutine, without
// blocking; the caller must be the runner.
func (f *feed[T]) runNow() {
	defer f.recoverRun()

	f.run(false)
}

func (f *feed[T]) acquire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()

	if f.running {
		f.again = true

		return false
	}

	f.running = true

	return true
}

// release ends a run and returns true, or returns false when wake was called
// during the run, whose caller then looks for values again.
func (f *feed[T]) release() bool {
	f.mu.Lock()
	defer f.mu.Unlock()

	if f.again {
		f.again = false

		return false
	}

	f.running = false

	return true
}

// run moves values until none is pending. With background false it runs in
// the subscribing resolver's goroutine and hands over to a new goroutine
// where it would block: on a full channel, a read of the store, or the end.
func (f *feed[T]) run(background bool) {
	for {
		if f.unsent == nil {
			value, err := f.take(background)
			if err != nil {
				if !background {
					go f.runInBackground()

					return
				}

				f.finish(err)

				return
			}

			if value == nil {
				if f.release() {
					return
				}

				continue
			}

			f.unsent = value
		}

		if !f.send(background) {
			if !background {
				go f.runInBackground()

				return
			}

			f.finish(f.ctx.Err())

			return
		}
	}
}

func (f *feed[T]) take(background bool) (*T, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}

	return f.source.next(f.ctx, background)
}

// send sends the unsent value and reports whether it went. Without
// background it does not wait; with it, it waits until ctx ends.
func (f *feed[T]) send(background bool) bool {
	if background {
		select {
		case f.out <- f.unsent:
		case <-f.ctx.Done():
			return false
		}
	} else {
		select {
		case f.out <- f.unsent:
		default:
			return false
		}
	}

	f.unsent = nil
	f.source.sent()

	return true
}

func (f *feed[T]) runInBackground() {
	defer f.recoverRun()

	f.run(true)
}

// finish unsubscribes and closes the channel, which completes the
// subscription. The feed stays marked running, so it never runs again.
func (f *feed[T]) finish(err error) {
	f.stopWatch()
	f.source.close()

	if f.onEnd != nil && err != nil {
		f.onEnd(err)
	}

	close(f.out)
}

// recoverRun ends the feed after a panic in its source, like any early end,
// instead of the process. The finish runs in a new goroutine, so that it
// never runs under a lock that the panicking caller held.
func (f *feed[T]) recoverRun() {
	if value := recover(); value != nil {
		f.logPanic(value)

		go f.finish(nil)
	}
}
