package events

import (
	"errors"
	"sync"

	"github.com/google/uuid"
)

// DefaultBufferSize is how many messages a subscription holds before the hub
// starts to coalesce its progress events.
const DefaultBufferSize = 32

// ErrHubClosed is returned by Subscription.Take and TaskStream.Next after the hub was closed.
var ErrHubClosed = errors.New("event hub closed")

// terminalStatuses are the task statuses after which a task has no further
// events unless an operator retries it. They match store.TaskTerminal; the
// hub does not import store so that the wire format stays dependency-free.
var terminalStatuses = map[string]bool{
	"SUCCEEDED": true, "FAILED": true, "CANCELLED": true, "DEAD_LETTERED": true,
}

// Terminal reports whether the event ends its task.
func (e *TaskEvent) Terminal() bool {
	return terminalStatuses[e.Status]
}

// Message is one item that a subscription receives: a task event, a meeting
// event, or a resync notice.
type Message struct {
	Task    *TaskEvent
	Meeting *MeetingEvent
	// Resync reports that the broker connection was replaced, so events
	// published meanwhile may never arrive live. A subscriber that can
	// re-read them from the store should do so.
	Resync bool
	// Coalesced is set on a progress event that replaced older progress
	// events of the same task and status, because the subscriber fell behind.
	Coalesced bool

	// progressOnly is set when the task already had this status in the
	// previous event delivered to the same subscription.
	progressOnly bool
}

// coalescable reports whether m may be replaced by newer: only a progress
// event within one status, never a status change or a terminal event.
func (m Message) coalescable(newer Message) bool {
	return m.progressOnly && newer.Task != nil &&
		m.Task.TaskID == newer.Task.TaskID &&
		m.Task.Status == newer.Task.Status &&
		!newer.Task.Terminal()
}

// topic selects the events that a subscription receives.
type topic struct {
	kind topicKind
	id   uuid.UUID
}

type topicKind int

const (
	topicTask topicKind = iota
	topicMeetingTasks
	topicMeetingEvents
)

// Hub dispatches events to the local subscriptions that match them. Publish
// never blocks on a subscriber: each subscription has its own mailbox, and
// one that falls behind has its progress events coalesced (see
// Subscription), so a slow client cannot delay the others.
type Hub struct {
	bufferSize int

	mu            sync.RWMutex
	subscriptions map[topic]map[*Subscription]struct{}
	count         int
	closed        bool
}

// NewHub returns a hub whose subscriptions buffer bufferSize messages before
// coalescing; 0 means DefaultBufferSize.
func NewHub(bufferSize int) *Hub {
	if bufferSize <= 0 {
		bufferSize = DefaultBufferSize
	}

	return &Hub{bufferSize: bufferSize, subscriptions: map[topic]map[*Subscription]struct{}{}}
}

// SubscribeTask returns a subscription to the events of one task.
func (h *Hub) SubscribeTask(taskID uuid.UUID) *Subscription {
	return h.subscribe(topic{kind: topicTask, id: taskID})
}

// SubscribeMeetingTasks returns a subscription to the events of every task
// of one meeting.
func (h *Hub) SubscribeMeetingTasks(meetingID uuid.UUID) *Subscription {
	return h.subscribe(topic{kind: topicMeetingTasks, id: meetingID})
}

// SubscribeMeetingEvents returns a subscription to one meeting's own events
// (created, started, ended, reminder).
func (h *Hub) SubscribeMeetingEvents(meetingID uuid.UUID) *Subscription {
	return h.subscribe(topic{kind: topicMeetingEvents, id: meetingID})
}

func (h *Hub) subscribe(t topic) *Subscription {
	s := &Subscription{hub: h, topic: t, wake: make(chan struct{}, 1)}

	h.mu.Lock()
	defer h.mu.Unlock()

	if h.closed {
		s.closed = true

		return s
	}

	set := h.subscriptions[t]
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.subscriptions[t] = set
	}

	set[s] = struct{}{}
	h.count++

	return s
}

func (h *Hub) unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()

	set := h.subscriptions[s.topic]
	if _, ok := set[s]; !ok {
		return
	}

	delete(set, s)
	h.count--

	if len(set) == 0 {
		delete(h.subscriptions, s.topic)
	}
}

// Len returns the number of open subscriptions.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()

	return h.count
}

// PublishTask delivers event to the subscriptions of its task and of its
// meeting's tasks. The subscribers share event and must not change it.
func (h *Hub) PublishTask(event *TaskEvent) {
	message := Message{Task: event}

	h.mu.RLock()
	defer h.mu.RUnlock()

	for s := range h.subscriptions[topic{kind: topicTask, id: event.TaskID}] {
		s.deliver(message)
	}

	for s := range h.subscriptions[topic{kind: topicMeetingTasks, id: event.MeetingID}] {
		s.deliver(message)
	}
}

// PublishMeeting delivers event to the subscriptions of its meeting's events.
func (h *Hub) PublishMeeting(event *MeetingEvent) {
	message := Message{Meeting: event}

	h.mu.RLock()
	defer h.mu.RUnlock()

	for s := range h.subscriptions[topic{kind: topicMeetingEvents, id: event.MeetingID}] {
		s.deliver(message)
	}
}

// Resync delivers a resync notice to every subscription.
func (h *Hub) Resync() {
	h.mu.RLock()
	defer h.mu.RUnlock()

	for _, set := range h.subscriptions {
		for s := range set {
			s.deliver(Message{Resync: true})
		}
	}
}

// Close ends every subscription: their Next returns ErrHubClosed once their
// pending messages are taken. Later subscriptions start closed.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()

	h.closed = true

	for _, set := range h.subscriptions {
		for s := range set {
			s.close()
		}
	}
}

// Subscription is one subscriber's mailbox. While it holds fewer than the
// hub's buffer size of messages, every message is kept. Past that, a new
// progress event replaces the pending one of the same task and status, so
// the mailbox grows by at most one message per task plus its status changes,
// and status changes and terminal events are never dropped.
type Subscription struct {
	hub   *Hub
	topic topic
	wake  chan struct{}

	mu      sync.Mutex
	pending []Message
	closed  bool
	// lastStatus is the status of each task's latest delivered event.
	lastStatus map[uuid.UUID]string
	// notify is called after each delivery and on close; see Notify.
	notify func()
}

// Notify makes the subscription call fn after each delivery and when the
// hub closes, besides signalling Wait. fn runs in the publisher's goroutine
// while the hub's lock is held, so it must not block or call the hub.
// Messages delivered before Notify are not announced to fn.
func (s *Subscription) Notify(fn func()) {
	s.mu.Lock()
	s.notify = fn
	s.mu.Unlock()
}

// signal wakes the subscriber after a delivery or on close.
func (s *Subscription) signal(notify func()) {
	select {
	case s.wake <- struct{}{}:
	default:
	}

	if notify != nil {
		notify()
	}
}

func (s *Subscription) deliver(m Message) {
	s.mu.Lock()

	if s.closed {
		s.mu.Unlock()

		return
	}

	if m.Task != nil {
		s.trackStatus(&m)
	}

	if len(s.pending) >= s.hub.bufferSize {
		s.removeCoalescable(&m)
	}

	s.pending = append(s.pending, m)
	notify := s.notify
	s.mu.Unlock()

	s.signal(notify)
}

func (s *Subscription) trackStatus(m *Message) {
	if s.lastStatus == nil {
		s.lastStatus = map[uuid.UUID]string{}
	}

	m.progressOnly = s.lastStatus[m.Task.TaskID] == m.Task.Status

	if m.Task.Terminal() {
		delete(s.lastStatus, m.Task.TaskID)
	} else {
		s.lastStatus[m.Task.TaskID] = m.Task.Status
	}
}

// removeCoalescable drops the newest pending message that newer replaces,
// if any, and marks newer as coalesced. The caller appends newer, so the
// events of one task stay in order.
func (s *Subscription) removeCoalescable(newer *Message) {
	for i := len(s.pending) - 1; i >= 0; i-- {
		if s.pending[i].coalescable(*newer) {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			newer.Coalesced = true

			return
		}
	}
}

func (s *Subscription) close() {
	s.mu.Lock()
	s.closed = true
	notify := s.notify
	s.mu.Unlock()

	s.signal(notify)
}

// Wait returns a channel that receives a value after messages arrive or the
// subscription closes; call Take after each receive.
func (s *Subscription) Wait() <-chan struct{} {
	return s.wake
}

// Take removes and returns the pending messages. It returns ErrHubClosed
// when the hub was closed and nothing is pending.
func (s *Subscription) Take() ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(s.pending) == 0 {
		if s.closed {
			return nil, ErrHubClosed
		}

		return nil, nil
	}

	taken := s.pending
	s.pending = nil

	return taken, nil
}

// Close removes the subscription from the hub. It is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.unsubscribe(s)

	s.mu.Lock()
	s.closed = true
	s.pending = nil
	s.notify = nil
	s.mu.Unlock()
}
