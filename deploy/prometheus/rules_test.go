// Package prometheus holds meetgraph's Prometheus configuration; its test
// checks the alerting rules with promtool.
package prometheus

import (
	"os/exec"
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
