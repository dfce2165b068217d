//go:build !linux

package testenv

import "os/exec"

// stopWithParent does nothing where the kernel cannot signal a child when
// its parent dies.
//
// NOTE: a node started by a test binary that dies without running its
// cleanups keeps running here. Stop it with rabbitmqctl --node NAME stop.
func stopWithParent(*exec.Cmd) {}
