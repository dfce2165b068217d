package consumers

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
)

func TestProgressReporterSkipsRepeats(t *testing.T) {
	t.Parallel()

	var reported []float64

	job := Job{Report: func(_ context.Context, progress float64, _, _ string) error {
		reported = append(reported, progress)

		return nil
	}}
	reporter := &progressReporter{ctx: t.Context(), job: job, logger: testenv.Logger(t), stage: "transcode",
		from: 0.1, to: 0.8, last: 0.05}

	// ffmpeg's last position may already be the whole duration, and its
	// progress=end line then reports completion a second time.
	for _, fraction := range []float64{0.01, 0.02, 0.5, 0.51, 1, 1} {
		reporter.report(fraction)
	}

	require.InDeltaSlice(t, []float64{0.107, 0.45, 0.8}, reported, 1e-9)
}
