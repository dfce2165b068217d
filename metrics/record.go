package metrics

import "time"

// The methods below record one event each. A nil *Metrics records
// nothing, so that components built without metrics (in tests, or in the
// token and migrate commands) need no checks of their own.

// TaskSubmitted counts a task accepted by a mutation or queued by a worker.
func (m *Metrics) TaskSubmitted(kind string) {
	if m != nil {
		m.TasksSubmitted.WithLabelValues(kind).Inc()
	}
}

// TaskProcessed counts a finished task attempt with the status it left
// the task in (SUCCEEDED, FAILED, QUEUED for a retry, DEAD_LETTERED).
func (m *Metrics) TaskProcessed(kind, status string) {
	if m != nil {
		m.TasksProcessed.WithLabelValues(kind, status).Inc()
	}
}

// TaskRetried counts a task message sent to a retry queue of queue.
func (m *Metrics) TaskRetried(queue string) {
	if m != nil {
		m.TaskRetries.WithLabelValues(queue).Inc()
	}
}

// TaskDeadLettered counts a task message dead-lettered from queue.
func (m *Metrics) TaskDeadLettered(queue string) {
	if m != nil {
		m.DeadLetters.WithLabelValues(queue).Inc()
	}
}

// PublishConfirmed records how long the broker took to confirm a message.
func (m *Metrics) PublishConfirmed(elapsed time.Duration) {
	if m != nil {
		m.PublishConfirm.Observe(elapsed.Seconds())
	}
}

// PublishFailed counts a publish that the broker did not confirm.
func (m *Metrics) PublishFailed(reason string) {
	if m != nil {
		m.PublishFailures.WithLabelValues(reason).Inc()
	}
}

// LoaderBatch records the number of keys in one dataloader batch.
func (m *Metrics) LoaderBatch(loader string, keys int) {
	if m != nil {
		m.LoaderBatchSize.WithLabelValues(loader).Observe(float64(keys))
	}
}
