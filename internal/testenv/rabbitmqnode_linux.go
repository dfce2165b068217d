package testenv

import (
	"os/exec"
	"syscall"
)

// stopWithParent makes the kernel send SIGTERM to command when the test
// binary dies without running its cleanups (a -timeout panic, a kill), so
// that no RabbitMQ node outlives the test. rabbitmq-server stops the node
// on SIGTERM.
func stopWithParent(command *exec.Cmd) {
	command.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
