package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Check is one dependency that /readyz verifies.
type Check struct {
	// Name identifies the dependency in the response, for example "postgres".
	Name string
	// Probe returns nil when the dependency is usable.
	Probe func(ctx context.Context) error
}

// readinessTimeout bounds each probe, so that a hung dependency makes
// /readyz return 503 instead of hanging the orchestrator's probe.
const readinessTimeout = 2 * time.Second

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleHealthz returns 200 while the process serves HTTP at all.
func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz probes every dependency concurrently and returns 200 when all
// are usable, or 503 naming each one that is not and why.
func handleReadyz(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		result := readiness{Status: "ok", Checks: make(map[string]string, len(checks))}

		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)

		for _, check := range checks {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
				defer cancel()

				state := "ok"
				if err := check.Probe(ctx); err != nil {
					state = err.Error()
				}

				mu.Lock()
				result.Checks[check.Name] = state
				mu.Unlock()
			})
		}

		wg.Wait()

		status := http.StatusOK
		for _, state := range result.Checks {
			if state != "ok" {
				result.Status = "unavailable"
				status = http.StatusServiceUnavailable
			}
		}

		writeJSON(w, status, result)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
