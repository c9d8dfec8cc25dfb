//go:build !linux

package testredis

import (
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot observe the process state here; give the signal a
// moment to be delivered.
func waitStopped(pid int, exited <-chan struct{}, timeout time.Duration) error {
	time.Sleep(20 * time.Millisecond)
	return nil
}
