package loaders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/store"
)

// fetchFunc reads the rows for keys in one statement and returns those it
// found by key.
type fetchFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// missingFunc gives the result for a key that fetch did not find: an empty
// value, or an error wrapping store.ErrNotFound.
type missingFunc[K comparable, V any] func(key K) (V, error)

// Loader batches the Load calls of one request into one fetch per batch
// window and caches each key's result for the rest of the request. Only
// found rows and not-found results are cached: a failed statement, a
// cancelled context or a panic is returned to every caller of that batch and
// forgotten, so that a later Load of the same key tries again.
type Loader[K comparable, V any] struct {
	name    string
	fetch   fetchFunc[K, V]
	missing missingFunc[K, V]
	logger  *slog.Logger
	metrics *metrics.Metrics
	// batched is nil when batching is off (Config.Disabled).
	batched *dataloader.Loader[K, V]
}

func newLoader[K comparable, V any](name string, config Config, logger *slog.Logger,
	fetch fetchFunc[K, V], missing missingFunc[K, V],
) *Loader[K, V] {
	l := &Loader[K, V]{name: name, fetch: fetch, missing: missing, logger: logger, metrics: config.Metrics}

	if !config.Disabled {
		l.batched = dataloader.NewBatchedLoader(l.batch,
			dataloader.WithWait[K, V](config.Wait),
			dataloader.WithBatchCapacity[K, V](config.MaxBatch))
	}

	return l
}

// Load returns the value for key, waiting for the batch that includes it.
func (l *Loader[K, V]) Load(ctx context.Context, key K) (V, error) {
	if l.batched == nil {
		result := l.batch(ctx, []K{key})[0]

		return result.Data, result.Error
	}

	value, err := l.batched.Load(ctx, key)()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		l.batched.Clear(ctx, key)
	}

	return value, err
}

// Prefetch loads keys in one fetch now, without waiting for a batch
// window, and caches the results, so that the Load calls that follow need
// no statement however late their goroutines start. A failed fetch is
// returned and not cached.
func (l *Loader[K, V]) Prefetch(ctx context.Context, keys []K) error {
	if l.batched == nil || len(keys) == 0 {
		return nil
	}

	for i, result := range l.batch(ctx, keys) {
		switch {
		case result.Error == nil:
			l.batched.Prime(ctx, keys[i], result.Data)
		case errors.Is(result.Error, store.ErrNotFound):
			// Prime can store only a value, and caching the zero value would
			// turn "not found" into a nil result. The next Load fetches the
			// key again and caches the not-found error itself.
		default:
			return result.Error
		}
	}

	return nil
}

// Prime stores value for key unless the key is already loaded or loading,
// so that a later Load needs no statement.
func (l *Loader[K, V]) Prime(ctx context.Context, key K, value V) {
	if l.batched != nil {
		l.batched.Prime(ctx, key, value)
	}
}

// batch is the dataloader batch function: one result per key, in key
// order. It recovers a panic in fetch itself, so that the panic reaches the
// callers as an error and the request's log gets the stack.
func (l *Loader[K, V]) batch(ctx context.Context, keys []K) (results []*dataloader.Result[V]) {
	l.metrics.LoaderBatch(l.name, len(keys))

	defer func() {
		if value := recover(); value != nil {
			l.logger.ErrorContext(ctx, "loader batch panicked",
				slog.String("loader", l.name),
				slog.Int("keys", len(keys)),
				slog.Any("panic", value),
				slog.String("stack", string(debug.Stack())))

			results = failAll[V](len(keys), fmt.Errorf("load %d %s: batch panicked: %v", len(keys), l.name, value))
		}
	}()

	// A request cancelled while its keys waited for the batch window should
	// not cost a statement.
	if err := ctx.Err(); err != nil {
		return failAll[V](len(keys), fmt.Errorf("load %d %s: %w", len(keys), l.name, err))
	}

	found, err := l.fetch(ctx, keys)
	if err != nil {
		return failAll[V](len(keys), fmt.Errorf("load %d %s: %w", len(keys), l.name, err))
	}

	results = make([]*dataloader.Result[V], len(keys))

	for i, key := range keys {
		if value, ok := found[key]; ok {
			results[i] = &dataloader.Result[V]{Data: value}

			continue
		}

		value, err := l.missing(key)
		results[i] = &dataloader.Result[V]{Data: value, Error: err}
	}

	return results
}

func failAll[V any](n int, err error) []*dataloader.Result[V] {
	results := make([]*dataloader.Result[V], n)
	for i := range results {
		results[i] = &dataloader.Result[V]{Error: err}
	}

	return results
}
