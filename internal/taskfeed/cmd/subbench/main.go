// Command subbench measures a running gateway's subscriptions: memory and
// goroutines per idle WebSocket subscription, the time to deliver one event
// to every subscriber, events delivered per second, and the latency from a
// task's first event being committed and published to a new subscriber
// receiving it. docs/benchmarks.md has the commands.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/taskfeed"
	"github.com/meetgraph/meetgraph/store"
)

const query = `subscription ($id: ID!, $after: Int) { taskUpdated(id: $id, afterSeq: $after) { seq status progress } }`

type settings struct {
	gateway     string
	pid         int
	token       string
	databaseURL string
	amqpURL     string
	meeting     uuid.UUID
	user        uuid.UUID
}

func main() {
	var (
		s       settings
		mode    = flag.String("mode", "fanout", "fanout (idle memory, one event to all), throughput or latency")
		count   = flag.Int("n", 10000, "subscriptions (fanout, throughput) or tasks (latency)")
		events  = flag.Int("events", 200, "events to publish (throughput)")
		rate    = flag.Int("rate", 200, "tasks per second (latency)")
		perConn = flag.Int("per-connection", 1, "subscriptions per WebSocket connection (fanout, throughput)")
		hold    = flag.Duration("hold", 0, "how long to keep the subscriptions open after measuring (fanout), for profiling")
		meeting = flag.String("meeting", store.SeedID("meeting:planning").String(), "meeting id of the tasks")
		user    = flag.String("user", store.SeedID("user:alice").String(), "user id that requests the tasks")
	)

	flag.StringVar(&s.gateway, "gateway", "http://127.0.0.1:8080", "gateway base URL")
	flag.IntVar(&s.pid, "pid", 0, "gateway process id, for its resident memory")
	flag.StringVar(&s.token, "token", "", "bearer token of the user")
	flag.StringVar(&s.databaseURL, "database-url", "", "the gateway's database URL")
	flag.StringVar(&s.amqpURL, "amqp-url", "", "the gateway's RabbitMQ URL")
	flag.Parse()

	s.meeting = uuid.MustParse(*meeting)
	s.user = uuid.MustParse(*user)

	ctx := context.Background()

	feed, err := taskfeed.Open(ctx, s.databaseURL, s.amqpURL)
	if err != nil {
		log.Fatal(err)
	}
	defer feed.Close()

	switch *mode {
	case "fanout":
		err = fanout(ctx, s, feed, *count, *perConn, *hold)
	case "throughput":
		err = throughput(ctx, s, feed, *count, *perConn, *events)
	case "latency":
		err = latency(ctx, s, feed, *count, *rate)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}

	if err != nil {
		log.Fatal(err)
	}
}

// client is one WebSocket connection that counts the events it receives.
type client struct {
	conn     *websocket.Conn
	received atomic.Int64
	// onEvent runs for each next message with the operation id.
	onEvent func(id string, at time.Time)
}

func dial(ctx context.Context, s settings, onEvent func(string, time.Time)) (*client, error) {
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.gateway, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}

	conn.SetReadLimit(1 << 20)

	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + s.token}})
	if err := conn.Write(ctx, websocket.MessageText, init); err != nil {
		return nil, err
	}

	if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), "connection_ack") {
		return nil, fmt.Errorf("no connection_ack: %s %v", data, err)
	}

	c := &client{conn: conn, onEvent: onEvent}

	go c.read()

	return c, nil
}

func (c *client) subscribe(ctx context.Context, id string, taskID uuid.UUID) error {
	message, _ := json.Marshal(map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{
		"query": query, "variables": map[string]any{"id": taskID.String()},
	}})

	return c.conn.Write(ctx, websocket.MessageText, message)
}

func (c *client) read() {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}

		at := time.Now()

		// The bench shares the gateway's cores, so it reads only the
		// message header, which the gateway writes as {"type":"next","id":"…".
		rest, ok := bytes.CutPrefix(data, []byte(`{"type":"next","id":"`))
		if !ok {
			continue
		}

		c.received.Add(1)

		if c.onEvent != nil {
			id, _, _ := bytes.Cut(rest, []byte(`"`))
			c.onEvent(string(id), at)
		}
	}
}

// openClients opens n subscriptions to taskID, perConnection on each
// WebSocket connection.
func openClients(ctx context.Context, s settings, n, perConnection int, taskID uuid.UUID,
	onEvent func(string, time.Time),
) ([]*client, error) {
	clients := make([]*client, (n+perConnection-1)/perConnection)

	var group errgroup.Group
	group.SetLimit(64)

	for i := range clients {
		group.Go(func() error {
			c, err := dial(ctx, s, onEvent)
			if err != nil {
				return err
			}

			clients[i] = c

			for op := range min(perConnection, n-i*perConnection) {
				if err := c.subscribe(ctx, fmt.Sprint(op), taskID); err != nil {
					return err
				}
			}

			return nil
		})
	}

	return clients, group.Wait()
}

type gatewayStats map[string]int

func readStats(s settings) (gatewayStats, error) {
	return fetchStats(s, "")
}

// readSettledStats collects garbage in the gateway before reading.
func readSettledStats(s settings) (gatewayStats, error) {
	return fetchStats(s, "?gc=1")
}

func fetchStats(s settings, query string) (gatewayStats, error) {
	response, err := http.Get(s.gateway + "/debug/subscriptions" + query)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()

	var stats gatewayStats

	return stats, json.NewDecoder(response.Body).Decode(&stats)
}

func waitForSubscriptions(s settings, n int) (gatewayStats, error) {
	deadline := time.Now().Add(2 * time.Minute)

	for {
		stats, err := readStats(s)
		if err != nil {
			return nil, err
		}

		if stats["subscriptions"] >= n {
			return stats, nil
		}

		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d subscriptions open", stats["subscriptions"], n)
		}

		time.Sleep(200 * time.Millisecond)
	}
}

// residentKiB reads VmRSS of the gateway process.
// cpuTime returns the CPU time, user and system, that process pid has used,
// at the kernel's clock-tick resolution (10 ms on most systems).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}

	// The command name in parentheses may hold spaces; the fields after it
	// are plain numbers, utime and stime being the 12th and 13th.
	_, after, _ := bytes.Cut(data, []byte(") "))
	fields := strings.Fields(string(after))

	if len(fields) < 13 {
		return 0
	}

	var utime, stime int64
	_, _ = fmt.Sscan(fields[11], &utime)
	_, _ = fmt.Sscan(fields[12], &stime)

	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times; Linux fixes
// it at 100 on every architecture Go supports.
const clockTicks = 100

func residentKiB(pid int) int {
	if pid == 0 {
		return 0
	}

	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}

	for line := range strings.SplitSeq(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			_, _ = fmt.Sscanf(strings.TrimSpace(value), "%d", &kib)

			return kib
		}
	}

	return 0
}

func fanout(ctx context.Context, s settings, feed *taskfeed.Feed, n, perConnection int, hold time.Duration) error {
	taskID, err := feed.CreateTask(ctx, s.meeting, s.user, "NOOP")
	if err != nil {
		return err
	}

	before, err := readSettledStats(s)
	if err != nil {
		return err
	}

	rssBefore := residentKiB(s.pid)

	var (
		mu       sync.Mutex
		received int
		last     time.Time
	)

	clients, err := openClients(ctx, s, n, perConnection, taskID, func(string, time.Time) {
		mu.Lock()
		received++
		last = time.Now()
		mu.Unlock()
	})
	if err != nil {
		return err
	}

	if _, err := waitForSubscriptions(s, n); err != nil {
		return err
	}

	time.Sleep(3 * time.Second)

	after, err := readSettledStats(s)
	if err != nil {
		return err
	}

	rssAfter := residentKiB(s.pid)

	fmt.Printf("idle subscriptions: %d on %d connections\n", n, len(clients))
	fmt.Printf("goroutines: %d -> %d (%.2f per subscription)\n", before["goroutines"], after["goroutines"],
		float64(after["goroutines"]-before["goroutines"])/float64(n))
	fmt.Printf("resident memory: %d KiB -> %d KiB (%.1f KiB per subscription)\n", rssBefore, rssAfter,
		float64(rssAfter-rssBefore)/float64(n))
	fmt.Printf("heap in use: %.1f KiB per subscription, stacks: %.1f KiB per subscription\n",
		float64(after["heapInuseBytes"]-before["heapInuseBytes"])/1024/float64(n),
		float64(after["stackInuseBytes"]-before["stackInuseBytes"])/1024/float64(n))

	for round, change := range taskfeed.NoopChanges[:3] {
		mu.Lock()
		received = 0
		mu.Unlock()

		start := time.Now()
		gatewayCPU, benchCPU := cpuTime(s.pid), cpuTime(os.Getpid())

		if _, err := feed.Record(ctx, taskID, change, true); err != nil {
			return err
		}

		deadline := time.Now().Add(30 * time.Second)

		for {
			mu.Lock()
			done, lastAt := received, last
			mu.Unlock()

			if done >= n {
				// The CPU times include up to a millisecond of polling
				// after the last event arrived.
				fmt.Printf("event %d to %d subscribers: %s (CPU: gateway %s, this program %s)\n", round+1, n,
					lastAt.Sub(start).Round(time.Millisecond), cpuTime(s.pid)-gatewayCPU, cpuTime(os.Getpid())-benchCPU)

				break
			}

			if time.Now().After(deadline) {
				return fmt.Errorf("event %d reached %d of %d subscribers", round+1, done, n)
			}

			time.Sleep(time.Millisecond)
		}
	}

	time.Sleep(hold)

	for _, c := range clients {
		_ = c.conn.CloseNow()
	}

	return nil
}

func throughput(ctx context.Context, s settings, feed *taskfeed.Feed, n, perConnection, count int) error {
	taskID, err := feed.CreateTask(ctx, s.meeting, s.user, "NOOP")
	if err != nil {
		return err
	}

	clients, err := openClients(ctx, s, n, perConnection, taskID, nil)
	if err != nil {
		return err
	}

	if _, err := waitForSubscriptions(s, n); err != nil {
		return err
	}

	// Progress events go straight to the exchange, without task_events
	// rows, so that the publisher is not the bottleneck. They are
	// consecutive, so no subscriber re-reads the store.
	start := time.Now()

	for seq := 1; seq <= count; seq++ {
		err := feed.Publish(ctx, events.TaskEvent{
			TaskID: taskID, MeetingID: s.meeting, Kind: "NOOP", Seq: int64(seq),
			Status: store.TaskRunning, Progress: float64(seq) / float64(count+1), At: time.Now(),
		})
		if err != nil {
			return err
		}
	}

	published := time.Since(start)

	var total, previous int64

	quietSince := time.Now()
	lastChange := start

	for time.Since(quietSince) < 2*time.Second {
		time.Sleep(20 * time.Millisecond)

		total = 0
		for _, c := range clients {
			total += c.received.Load()
		}

		if total != previous {
			previous = total
			quietSince = time.Now()
			lastChange = quietSince
		}

		if total == int64(n*count) {
			lastChange = time.Now()

			break
		}
	}

	elapsed := lastChange.Sub(start)
	fmt.Printf("published %d events in %s to %d subscribers\n", count, published.Round(time.Millisecond), n)
	fmt.Printf("delivered %d of %d in %s: %.0f events/s (the rest coalesced)\n", total, n*count,
		elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())

	for _, c := range clients {
		_ = c.conn.CloseNow()
	}

	return nil
}

func latency(ctx context.Context, s settings, feed *taskfeed.Feed, n, rate int) error {
	const connections = 32

	var (
		mu      sync.Mutex
		started = map[string]time.Time{}
		samples []time.Duration
		seen    = map[string]bool{}
	)

	onEvent := func(id string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()

		if !seen[id] {
			seen[id] = true
			samples = append(samples, at.Sub(started[id]))
		}
	}

	clients := make([]*client, connections)
	for i := range clients {
		c, err := dial(ctx, s, onEvent)
		if err != nil {
			return err
		}

		clients[i] = c
	}

	ticker := time.NewTicker(time.Second / time.Duration(rate))
	defer ticker.Stop()

	var group errgroup.Group

	for i := range n {
		<-ticker.C

		group.Go(func() error {
			// The mutation's work: a task row and its QUEUED event,
			// committed and published. The client subscribes when it gets
			// the task id back.
			taskID, err := feed.CreateTask(ctx, s.meeting, s.user, "NOOP")
			if err != nil {
				return err
			}

			if _, err := feed.Record(ctx, taskID, taskfeed.NoopChanges[0], true); err != nil {
				return err
			}

			id := fmt.Sprint(i)

			mu.Lock()
			started[id] = time.Now()
			mu.Unlock()

			return clients[i%connections].subscribe(ctx, id, taskID)
		})
	}

	if err := group.Wait(); err != nil {
		return err
	}

	deadline := time.Now().Add(10 * time.Second)

	for {
		mu.Lock()
		got := len(samples)
		mu.Unlock()

		if got == n {
			break
		}

		if time.Now().After(deadline) {
			return errors.New("not every subscription got its first event")
		}

		time.Sleep(10 * time.Millisecond)
	}

	slices.Sort(samples)
	fmt.Printf("%d tasks at %d/s: first event after p50 %s, p99 %s, max %s\n", n, rate,
		samples[n/2].Round(10*time.Microsecond), samples[n*99/100].Round(10*time.Microsecond),
		samples[n-1].Round(10*time.Microsecond))

	return nil
}
