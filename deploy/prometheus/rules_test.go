// Package prometheus holds meetgraph's Prometheus configuration; its test
// checks the alerting rules with promtool.
package prometheus

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()

	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: install Debian's prometheus package (scripts/services up does): %v", err)
	}

	output, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v failed: %v\n%s", args, err, output)
	}
}

func TestAlertRulesAreValid(t *testing.T) {
	t.Parallel()

	promtool(t, "check", "rules", "alerts.yml")
}

func TestAlertRulesUnitTests(t *testing.T) {
	t.Parallel()

	promtool(t, "test", "rules", "alerts_test.yml")
}

// TestDashboardQueriesParse checks every PromQL query of the Grafana
// dashboard by handing them to promtool as recording rules, because a
// query with a typo shows an empty panel rather than an error.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()

	raw, err := os.ReadFile("../grafana/dashboards/meetgraph.json")
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}

	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dashboard); err != nil {
		t.Fatalf("decode dashboard: %v", err)
	}

	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")

	count := 0

	for _, panel := range dashboard.Panels {
		for _, target := range panel.Targets {
			count++
			quoted, _ := json.Marshal(target.Expr)
			fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", count, quoted)
		}
	}

	if count == 0 {
		t.Fatal("the dashboard has no queries")
	}

	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o600); err != nil {
		t.Fatalf("write rules: %v", err)
	}

	promtool(t, "check", "rules", path)
}
