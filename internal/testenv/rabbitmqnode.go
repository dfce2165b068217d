package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeMemoryWatermark is the vm_memory_high_watermark.relative that a
// RabbitMQNode starts with and that ClearMemoryAlarm restores.
const nodeMemoryWatermark = "0.4"

// RabbitMQNode is a RabbitMQ node that one test starts for itself on
// loopback ports of its own. A resource alarm blocks every publishing
// connection of a node, so a test that raises one on the shared broker
// would stall the publishes of every other test that runs at the same time.
type RabbitMQNode struct {
	// URL is the AMQP URL of the node's default vhost, as user guest.
	URL string

	t    testing.TB
	name string
	log  string
}

// StartRabbitMQNode starts a RabbitMQ node with the local rabbitmq-server,
// waits until it accepts AMQP connections, and stops it and removes its
// files when the test ends. It skips the test when rabbitmq-server or
// rabbitmqctl is missing or cannot be run by this user: Debian's scripts
// run only as root or as the rabbitmq user.
func StartRabbitMQNode(t testing.TB) *RabbitMQNode {
	t.Helper()

	requireRabbitMQTools(t)

	dir := nodeDirectory(t)
	amqpAddr := FreeAddr(t)
	_, amqpPort, _ := net.SplitHostPort(amqpAddr)
	_, distPort, _ := net.SplitHostPort(FreeAddr(t))

	node := &RabbitMQNode{
		URL:  (&url.URL{Scheme: "amqp", User: url.UserPassword("guest", "guest"), Host: amqpAddr, Path: "/"}).String(),
		t:    t,
		name: "meetgraph-test-" + RandomSuffix() + "@localhost",
		log:  filepath.Join(t.TempDir(), "rabbitmq-server.log"),
	}

	config := filepath.Join(dir, "rabbitmq.conf")
	plugins := filepath.Join(dir, "enabled_plugins")
	writeNodeFile(t, config, fmt.Sprintf("listeners.tcp.1 = %s\nvm_memory_high_watermark.relative = %s\n",
		amqpAddr, nodeMemoryWatermark))
	writeNodeFile(t, plugins, "[].\n")

	logFile, err := os.Create(node.log)
	if err != nil {
		t.Fatalf("create RabbitMQ node log: %v", err)
	}

	// Debian's rabbitmq-server runs the node as the rabbitmq user through
	// su, which keeps these variables. Every path and port is the node's
	// own, so that it shares nothing with the broker on 127.0.0.1:5672.
	server := exec.Command("rabbitmq-server")
	server.Env = append(os.Environ(),
		"RABBITMQ_NODENAME="+node.name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+amqpPort,
		"RABBITMQ_DIST_PORT="+distPort,
		"RABBITMQ_CONFIG_FILE="+config,
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
		"RABBITMQ_LOGS=-",
	)
	server.Stdout = logFile
	server.Stderr = logFile
	stopWithParent(server)

	if err := server.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start rabbitmq-server: %v", err)
	}

	exited := make(chan error, 1)

	go func() {
		exited <- server.Wait()
		_ = logFile.Close()
	}()

	t.Cleanup(func() { node.stop(server, exited) })

	Eventually(t, time.Minute, func() error {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("rabbitmq-server exited during start-up: %v\n%s", err, node.logTail())
		default:
		}

		conn, err := net.DialTimeout("tcp", amqpAddr, time.Second)
		if err != nil {
			return fmt.Errorf("RabbitMQ node %s not listening on %s yet: %w", node.name, amqpAddr, err)
		}

		return conn.Close()
	})

	node.ctl("await_startup")

	return node
}

// RaiseMemoryAlarm sets the node's memory high watermark to 0, so that the
// node raises a memory alarm and blocks each connection that publishes,
// until ClearMemoryAlarm or the end of the test. RabbitMQ 3.10 sends
// connection.blocked to a connection only when it publishes, so the first
// publish after the alarm reaches the broker's socket buffer before the
// client can know.
func (n *RabbitMQNode) RaiseMemoryAlarm() {
	n.t.Helper()

	n.t.Cleanup(n.ClearMemoryAlarm)
	n.ctl("set_vm_memory_high_watermark", "0")
}

// ClearMemoryAlarm restores the node's memory high watermark, so that the
// node clears the alarm and unblocks its connections.
func (n *RabbitMQNode) ClearMemoryAlarm() {
	n.t.Helper()

	n.ctl("set_vm_memory_high_watermark", nodeMemoryWatermark)
}

func (n *RabbitMQNode) ctl(args ...string) {
	n.t.Helper()

	command := append([]string{"--node", n.name, "--quiet"}, args...)

	output, err := exec.Command("rabbitmqctl", command...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("rabbitmqctl %s: %v\n%s\nnode log:\n%s", strings.Join(command, " "), err, output, n.logTail())
	}
}

// stop stops the node with rabbitmqctl, and signals the rabbitmq-server
// process that this test started when the node does not stop in time.
func (n *RabbitMQNode) stop(server *exec.Cmd, exited chan error) {
	select {
	case <-exited:
		return
	default:
	}

	output, err := exec.Command("rabbitmqctl", "--node", n.name, "--quiet", "stop").CombinedOutput()
	if err != nil {
		n.t.Logf("rabbitmqctl --node %s stop: %v\n%s", n.name, err, output)
	}

	select {
	case <-exited:
		return
	case <-time.After(30 * time.Second):
	}

	n.t.Errorf("RabbitMQ node %s did not stop within 30 s, so the test kills rabbitmq-server (pid %d)", n.name, server.Process.Pid)
	_ = server.Process.Kill()
	<-exited
}

// logTail returns the end of the node's output, for failure messages.
func (n *RabbitMQNode) logTail() string {
	const maxBytes = 4000

	content, err := os.ReadFile(n.log)
	if err != nil {
		return "(no node log: " + err.Error() + ")"
	}

	if len(content) > maxBytes {
		content = content[len(content)-maxBytes:]
	}

	return string(content)
}

// requireRabbitMQTools skips the test unless rabbitmq-server is on PATH
// and rabbitmqctl runs for this user.
func requireRabbitMQTools(t testing.TB) {
	t.Helper()

	for _, tool := range []string{"rabbitmq-server", "rabbitmqctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("this test starts a RabbitMQ node of its own, but %s is not on PATH; "+
				"install RabbitMQ with scripts/services up, run as root", tool)
		}
	}

	output, err := exec.Command("rabbitmqctl", "version").CombinedOutput()
	if err != nil {
		t.Skipf("this test starts a RabbitMQ node of its own, but rabbitmqctl cannot run here (%v); "+
			"run the tests as root or as the rabbitmq user:\n%s", err, output)
	}
}

// nodeDirectory creates the directory for the node's configuration, data
// and logs, and removes it when the test ends. When the tests run as root
// and a rabbitmq user exists, Debian's rabbitmq-server runs the node as
// that user, so the directory is given to it.
func nodeDirectory(t testing.TB) string {
	t.Helper()

	dir, err := os.MkdirTemp("", "meetgraph-rabbitmq-")
	if err != nil {
		t.Fatalf("create RabbitMQ node directory: %v", err)
	}

	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove RabbitMQ node directory: %v", err)
		}
	})

	if os.Geteuid() != 0 {
		return dir
	}

	owner, err := user.Lookup("rabbitmq")
	if _, unknown := errors.AsType[user.UnknownUserError](err); unknown {
		return dir
	}

	if err != nil {
		t.Fatalf("look up user rabbitmq: %v", err)
	}

	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)

	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("give RabbitMQ node directory to user rabbitmq: %v", err)
	}

	return dir
}

// writeNodeFile writes a configuration file that the node only reads.
func writeNodeFile(t testing.TB, path, content string) {
	t.Helper()

	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}
