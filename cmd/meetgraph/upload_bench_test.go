package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// zeros is an endless stream of zero bytes that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)

	return len(p), nil
}

// peakRSS returns this process's peak resident set size in bytes
// (VmHWM in /proc/self/status).
func peakRSS(b *testing.B) int64 {
	b.Helper()

	file, err := os.Open("/proc/self/status")
	require.NoError(b, err)
	defer file.Close()

	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		if value, ok := strings.CutPrefix(scanner.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			require.NoError(b, err)

			return kib << 10
		}
	}

	b.Fatal("no VmHWM line in /proc/self/status")

	return 0
}

// BenchmarkConcurrentUploads streams 10 uploads of 200 MB at once through
// the gateway's multipart mutation to S3 and reports the process's peak
// RSS during the uploads. Client and gateway share the process; the client
// streams zeros, so the figure bounds the gateway's memory.
func BenchmarkConcurrentUploads(b *testing.B) {
	const (
		uploads = 10
		size    = 200 << 20
	)

	s := startSystem(b, testenv.DatabaseURL(b))
	s.command(b, "seed")

	retro := store.SeedID("meeting:retro").String()
	bob := strings.TrimSpace(s.command(b, "token", "--user", "bob@example.com"))

	// Writing 5 resets VmHWM to the current RSS (Linux 4.0 and later), so
	// the start-up does not count.
	require.NoError(b, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))

	before := peakRSS(b)

	for b.Loop() {
		var wait sync.WaitGroup

		for range uploads {
			wait.Go(func() {
				response := testenv.PostUpload(b, s.baseURL+"/query", bob, gqlclient.Upload{
					Query: uploadMutation, Variables: map[string]any{"meetingId": retro}, FileVariable: "file",
					FileName: "zeros.bin", ContentType: "application/octet-stream",
					File: io.LimitReader(zeros{}, size), Size: size,
				})
				if len(response.Errors) > 0 {
					b.Errorf("upload failed: %+v", response.Errors)
				}
			})
		}

		wait.Wait()
	}

	b.ReportMetric(float64(before)/(1<<20), "start-rss-MiB")
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(uploads*size)/(1<<20), "MiB-per-op")
}
