package server

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/auth"
)

// RateLimit sets the per-caller token bucket.
type RateLimit struct {
	// PerSecond is the sustained request rate per caller; 0 disables the limit.
	PerSecond float64
	// Burst is how many requests a caller may send at once.
	Burst int
	// MaxCallers bounds how many callers' buckets are remembered; the least
	// recently seen are forgotten first, which resets their bucket to full.
	MaxCallers int
}

// rateLimiter keeps one token bucket per caller: the user id for signed-in
// requests, the client's IP address otherwise.
type rateLimiter struct {
	config  RateLimit
	mu      sync.Mutex
	buckets *lru.Cache[string, *rate.Limiter]
}

func newRateLimiter(config RateLimit) *rateLimiter {
	size := config.MaxCallers
	if size <= 0 {
		size = 100_000
	}

	// lru.New fails only for a size of 0 or less, which the lines above rule out.
	buckets, _ := lru.New[string, *rate.Limiter](size)

	return &rateLimiter{config: config, buckets: buckets}
}

// middleware rejects a request with 429 and Retry-After, in whole seconds, when the
// caller's bucket is empty. It must run after the auth middleware so that
// signed-in users are counted by user id.
func (l *rateLimiter) middleware(next http.Handler) http.Handler {
	if l.config.PerSecond <= 0 {
		return next
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reservation := l.bucket(callerKey(r)).Reserve()

		if delay := reservation.Delay(); delay > 0 {
			reservation.Cancel()
			writeTooManyRequests(w, delay)

			return
		}

		next.ServeHTTP(w, r)
	})
}

func (l *rateLimiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()

	if bucket, ok := l.buckets.Get(key); ok {
		return bucket
	}

	bucket := rate.NewLimiter(rate.Limit(l.config.PerSecond), max(l.config.Burst, 1))
	l.buckets.Add(key, bucket)

	return bucket
}

func callerKey(r *http.Request) string {
	if userID, err := auth.UserID(r.Context()); err == nil {
		return "user:" + userID.String()
	}

	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}

	return "ip:" + host
}

func writeTooManyRequests(w http.ResponseWriter, delay time.Duration) {
	seconds := int(math.Ceil(delay.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeGraphQLError(w, http.StatusTooManyRequests, apperr.RateLimited,
		"too many requests: retry after "+strconv.Itoa(seconds)+" s")
}
