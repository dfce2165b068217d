package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// benchmarkClients is how many clients send mutations at once.
const benchmarkClients = 64

// BenchmarkRequestAnalysis sends b.N requestAnalysis mutations from 64
// concurrent clients and reports throughput and latency percentiles: to
// `meetgraph serve` alone, and to `meetgraph all`, whose worker runs the
// NOOP tasks on the same machine at the same time.
func BenchmarkRequestAnalysis(b *testing.B) {
	for _, role := range []string{"serve", "all"} {
		b.Run(role, func(b *testing.B) { benchmarkRequestAnalysis(b, role) })
	}
}

func benchmarkRequestAnalysis(b *testing.B, role string) {
	// The default pool (the larger of 4 and the CPU count) is sized for a
	// laptop; 64 concurrent clients need more connections. Access logs of
	// every request would measure the logger.
	b.Setenv("MEETGRAPH_DATABASE_MAX_CONNS", "24")
	b.Setenv("MEETGRAPH_LOG_LEVEL", "warn")

	s := startRole(b, testenv.DatabaseURL(b), role)
	s.command(b, "seed")
	token := strings.TrimSpace(s.command(b, "token", "--user", "alice@example.com"))
	meeting := store.SeedID("meeting:planning").String()

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: benchmarkClients},
	}

	cpuBefore := processCPU(b)

	asynctest.Measure(b, benchmarkClients, "mutations/s", func(int) error {
		_, err := postMutation(client, s.baseURL+"/query", token, map[string]any{"meeting": meeting})

		return err
	})

	// The clients run in this process too, so this is the CPU time of the
	// gateway and the clients together; bench/mutations.sh measures the
	// gateway alone.
	b.ReportMetric(float64((processCPU(b)-cpuBefore).Microseconds())/float64(b.N), "process_cpu_us/op")
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()

	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatalf("read CPU time: %v", err)
	}

	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
