package loaders

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func TestLoaderPanicIsAnErrorAndNotCached(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	l := newLoader("numbers", Config{Wait: time.Millisecond, MaxBatch: 10}, testenv.Logger(t),
		func(_ context.Context, keys []int) (map[int]string, error) {
			if calls.Add(1) == 1 {
				panic("first batch breaks")
			}

			return map[int]string{keys[0]: "one"}, nil
		},
		func(int) (string, error) { return "", nil })

	_, err := l.Load(t.Context(), 1)
	require.ErrorContains(t, err, "batch panicked: first batch breaks")

	value, err := l.Load(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, "one", value)
	assert.Equal(t, int32(2), calls.Load())
}

func TestLoaderFailedBatchIsNotCachedButNotFoundIs(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	l := newLoader("numbers", Config{Wait: time.Millisecond, MaxBatch: 10}, testenv.Logger(t),
		func(context.Context, []int) (map[int]string, error) {
			if calls.Add(1) == 1 {
				return nil, errors.New("connection reset")
			}

			return map[int]string{}, nil
		},
		func(int) (string, error) { return "", store.ErrNotFound })

	_, err := l.Load(t.Context(), 7)
	require.ErrorContains(t, err, "connection reset")

	_, err = l.Load(t.Context(), 7)
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = l.Load(t.Context(), 7)
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, int32(2), calls.Load(), "the not-found result should come from the cache")
}

func TestUsersLoaderKeepsKeyOrder(t *testing.T) {
	t.Parallel()

	f := setup(t)
	u1, u2, u3 := f.addUser(t), f.addUser(t), f.addUser(t)
	missing := f.addUser(t)
	f.exec(t, `DELETE FROM users WHERE id = $1`, missing)

	l := New(f.store, Config{Wait: 20 * time.Millisecond}, testenv.Logger(t))
	keys := []string{u3.String(), u1.String(), missing.String(), u2.String(), u1.String()}
	got := make([]string, len(keys))
	errs := make([]error, len(keys))
	before := f.tracer.Count()

	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			user, err := l.Users.Load(t.Context(), mustUUID(t, key))
			errs[i] = err

			if err == nil {
				got[i] = user.ID.String()
			}
		})
	}

	wg.Wait()

	assert.Equal(t, []string{u3.String(), u1.String(), "", u2.String(), u1.String()}, got)
	assert.ErrorIs(t, errs[2], store.ErrNotFound)
	assert.Equal(t, int64(1), f.tracer.Count()-before)
}

func TestCancelledRequestDoesNotPoisonOthers(t *testing.T) {
	t.Parallel()

	f := setup(t)
	meeting := f.addMeeting(t, f.addUser(t))
	f.exec(t, `INSERT INTO recordings (id, meeting_id, status) VALUES (gen_random_uuid(), $1, 'UPLOADED')`, meeting)
	f.tracer.Delay("FROM recordings", 300*time.Millisecond)

	config := Config{Wait: time.Millisecond}
	cancelled := New(f.store, config, testenv.Logger(t))
	other := New(f.store, config, testenv.Logger(t))

	ctx, cancel := context.WithCancel(t.Context())

	var wg sync.WaitGroup

	var cancelledErr, otherErr error

	var otherRecordings []*store.Recording

	wg.Go(func() { _, cancelledErr = cancelled.Recordings.Load(ctx, meeting) })
	wg.Go(func() { otherRecordings, otherErr = other.Recordings.Load(t.Context(), meeting) })

	// Cancel while both statements wait in the tracer's delay.
	testenv.Eventually(t, 5*time.Second, func() error {
		if f.tracer.Count() < 2 {
			return errors.New("statements not started yet")
		}

		return nil
	})
	cancel()
	wg.Wait()

	require.ErrorIs(t, cancelledErr, context.Canceled)
	require.NoError(t, otherErr)
	assert.Len(t, otherRecordings, 1)

	// The cancelled request's loader forgot the failure.
	recordings, err := cancelled.Recordings.Load(t.Context(), meeting)
	require.NoError(t, err)
	assert.Len(t, recordings, 1)
}

func TestForResponseMakesLoadersOnFirstUse(t *testing.T) {
	t.Parallel()

	prepare := ForResponse(nil, Config{}, testenv.Logger(t))
	ctx := prepare(context.Background())

	lazy, ok := ctx.Value(contextKey{}).(*lazyLoaders)
	require.True(t, ok, "context holds lazy loaders")
	require.Nil(t, lazy.loaders, "loaders before the first use")

	first := From(ctx)
	require.NotNil(t, first)
	require.Same(t, first, From(ctx), "loaders of the second use")
	require.NotSame(t, first, From(prepare(context.Background())), "loaders of another response")
}
