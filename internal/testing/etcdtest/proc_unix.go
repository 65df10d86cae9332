//go:build unix

package etcdtest

import (
	"os/exec"
	"syscall"
)

// SetGroup makes cmd the leader of a process group of its own, so that
// SignalGroup reaches everything it starts.
func SetGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// SignalGroup sends SIGTERM (or SIGKILL, with kill) to the process group of
// a started cmd.
func SignalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-cmd.Process.Pid, sig)
}
