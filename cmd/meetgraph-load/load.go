package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is one measurement run.
type loadConfig struct {
	url         string
	token       string
	body        []byte
	concurrency int
	rate        int
	duration    time.Duration
	warmup      time.Duration
	pid         int
	databaseURL string
	statsWait   time.Duration
	label       string
}

func runLoad(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	config := loadConfig{}
	query := flags.String("query", "detail", "operation to send: detail, list5, list50, trivial or analysis (a requestAnalysis mutation)")
	meeting := flags.String("meeting", "", "meeting id for -query detail and analysis")

	flags.StringVar(&config.url, "url", "http://127.0.0.1:8080/query", "GraphQL endpoint on this machine")
	flags.StringVar(&config.token, "token", "", "bearer token to send (meetgraph token --user ID)")
	flags.IntVar(&config.concurrency, "concurrency", 64, "closed loop: clients that each send the next request when the last one returns")
	flags.IntVar(&config.rate, "rate", 0, "open loop: requests per second at fixed intervals; overrides -concurrency when above 0")
	flags.DurationVar(&config.duration, "duration", 10*time.Second, "how long to measure")
	flags.DurationVar(&config.warmup, "warmup", 2*time.Second, "how long to send requests before measuring")
	flags.IntVar(&config.pid, "pid", 0, "server process id whose CPU time is read from /proc; 0 skips CPU")
	flags.StringVar(&config.databaseURL, "database-url", "", "the server's database, for SQL statements per request; empty skips it")
	flags.DurationVar(&config.statsWait, "stats-wait", 11*time.Second,
		"wait before reading PostgreSQL's statistics after a run (PostgreSQL 15 flushes an idle backend's counters within 10 s)")
	flags.StringVar(&config.label, "label", "", "name of the run in the output row")

	if err := flags.Parse(args); err != nil {
		return err
	}

	body, err := requestBody(*query, *meeting)
	if err != nil {
		return err
	}

	config.body = body
	if config.label == "" {
		config.label = *query
	}

	result, err := measure(ctx, config)
	if err != nil {
		return err
	}

	fmt.Println(result.row(config))

	return nil
}

// result is the measurement of one run.
type result struct {
	requests   int
	failures   int
	dropped    int
	elapsed    time.Duration
	latencies  []time.Duration
	cpu        time.Duration
	statements int64
}

func measure(ctx context.Context, config loadConfig) (*result, error) {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: max(config.concurrency, 256), MaxIdleConns: 1024},
	}
	send := func(ctx context.Context) bool { return sendOne(ctx, client, config) }

	if !send(ctx) {
		return nil, fmt.Errorf("the first request to %s failed; run one by hand with curl to see why", config.url)
	}

	closedLoop(ctx, send, config.concurrency, config.warmup)

	// The warm-up's statements must be flushed to the statistics before
	// the first reading, or they would count as the run's.
	if err := waitForStatistics(ctx, config); err != nil {
		return nil, err
	}

	cpuBefore, err := processCPU(config.pid)
	if err != nil {
		return nil, err
	}

	statementsBefore, err := statementCount(ctx, config.databaseURL)
	if err != nil {
		return nil, err
	}

	var r *result
	if config.rate > 0 {
		r = openLoop(ctx, send, config.rate, config.duration)
	} else {
		r = closedLoop(ctx, send, config.concurrency, config.duration)
	}

	cpuAfter, err := processCPU(config.pid)
	if err != nil {
		return nil, err
	}

	r.cpu = cpuAfter - cpuBefore

	if config.databaseURL != "" {
		if err := waitForStatistics(ctx, config); err != nil {
			return nil, err
		}

		statementsAfter, err := statementCount(ctx, config.databaseURL)
		if err != nil {
			return nil, err
		}

		// The reading itself is one transaction in the counted database.
		r.statements = statementsAfter - statementsBefore - 1
	}

	return r, nil
}

// waitForStatistics waits until PostgreSQL has flushed the counters of
// the gateway's idle connections, when statements are counted at all.
func waitForStatistics(ctx context.Context, config loadConfig) error {
	if config.databaseURL == "" {
		return nil
	}

	select {
	case <-time.After(config.statsWait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendOne posts the request and reports whether it returned 200 without
// GraphQL errors.
func sendOne(ctx context.Context, client *http.Client, config loadConfig) bool {
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, config.url, bytes.NewReader(config.body))
	if err != nil {
		return false
	}

	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")

	if config.token != "" {
		request.Header.Set("Authorization", "Bearer "+config.token)
	}

	response, err := client.Do(request)
	if err != nil {
		return false
	}
	defer response.Body.Close()

	raw, err := io.ReadAll(response.Body)

	return err == nil && response.StatusCode == http.StatusOK && !bytes.Contains(raw, []byte(`"errors"`))
}

// closedLoop runs clients that each send their next request as soon as
// the previous one returns, for duration.
func closedLoop(ctx context.Context, send func(context.Context) bool, clients int, duration time.Duration) *result {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	var (
		mu sync.Mutex
		wg sync.WaitGroup
		r  result
	)

	start := time.Now()

	for range clients {
		wg.Go(func() {
			var latencies []time.Duration

			failures := 0

			for ctx.Err() == nil {
				sent := time.Now()
				ok := send(ctx)

				if ctx.Err() != nil {
					break
				}

				latencies = append(latencies, time.Since(sent))
				if !ok {
					failures++
				}
			}

			mu.Lock()
			r.latencies = append(r.latencies, latencies...)
			r.failures += failures
			mu.Unlock()
		})
	}

	wg.Wait()

	r.elapsed = time.Since(start)
	r.requests = len(r.latencies)

	return &r
}

// maxInFlight bounds the open loop's concurrent requests; a request whose
// turn comes while that many are still open is counted as dropped.
const maxInFlight = 2048

// openLoop sends rate requests per second at fixed intervals, whatever the
// server's speed, and measures each latency from the request's scheduled
// time, so that a slow server cannot hide its queueing delay.
func openLoop(ctx context.Context, send func(context.Context) bool, rate int, duration time.Duration) *result {
	interval := time.Second / time.Duration(rate)
	total := int(duration / interval)
	slots := make(chan struct{}, maxInFlight)

	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		r        result
		failures atomic.Int64
	)

	start := time.Now()

	for i := range total {
		scheduled := start.Add(time.Duration(i) * interval)

		select {
		case <-time.After(time.Until(scheduled)):
		case <-ctx.Done():
		}

		if ctx.Err() != nil {
			break
		}

		select {
		case slots <- struct{}{}:
		default:
			r.dropped++

			continue
		}

		wg.Go(func() {
			defer func() { <-slots }()

			if !send(ctx) {
				failures.Add(1)
			}

			latency := time.Since(scheduled)

			mu.Lock()
			r.latencies = append(r.latencies, latency)
			mu.Unlock()
		})
	}

	wg.Wait()

	r.elapsed = time.Since(start)
	r.requests = len(r.latencies)
	r.failures = int(failures.Load())

	return &r
}

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}

	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// row formats the result as a Markdown table row: label, mode, requests,
// requests/s, p50, p99, CPU per request, SQL statements per request,
// failed and dropped requests.
func (r *result) row(config loadConfig) string {
	slices.Sort(r.latencies)

	mode := fmt.Sprintf("%d clients", config.concurrency)
	if config.rate > 0 {
		mode = fmt.Sprintf("%d req/s", config.rate)
	}

	cpu, statements := "-", "-"
	if r.requests > 0 && config.pid != 0 {
		cpu = fmt.Sprintf("%.0f µs", float64(r.cpu.Microseconds())/float64(r.requests))
	}

	if r.requests > 0 && config.databaseURL != "" {
		statements = fmt.Sprintf("%.2f", float64(r.statements)/float64(r.requests))
	}

	return fmt.Sprintf("| %s | %s | %d | %.0f | %s | %s | %s | %s | %d / %d |",
		config.label, mode, r.requests, float64(r.requests)/r.elapsed.Seconds(),
		formatLatency(r.percentile(0.50)), formatLatency(r.percentile(0.99)), cpu, statements, r.failures, r.dropped)
}

func formatLatency(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

// errMalformedStat is returned for a /proc/PID/stat without a command name.
var errMalformedStat = errors.New("malformed /proc stat")
