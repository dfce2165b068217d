package testenv

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// StatementTracer is a pgx.QueryTracer that counts the statements run on a
// pool and can delay the statements whose SQL contains a given text, so
// that tests can count round trips and simulate slow queries.
type StatementTracer struct {
	count atomic.Int64

	mu     sync.Mutex
	delays map[string]time.Duration
}

var _ pgx.QueryTracer = (*StatementTracer)(nil)

// Count returns the number of statements started so far.
func (s *StatementTracer) Count() int64 { return s.count.Load() }

// Delay makes every later statement whose SQL contains text wait d before
// it is sent, or until its context ends.
func (s *StatementTracer) Delay(text string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.delays == nil {
		s.delays = map[string]time.Duration{}
	}

	s.delays[text] = d
}

func (s *StatementTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	s.count.Add(1)

	s.mu.Lock()

	var delay time.Duration

	for text, d := range s.delays {
		if strings.Contains(data.SQL, text) {
			delay = max(delay, d)
		}
	}
	s.mu.Unlock()

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()

		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}

	return ctx
}

func (s *StatementTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
