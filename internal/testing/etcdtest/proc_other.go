//go:build !unix

package etcdtest

import "os/exec"

// SetGroup does nothing where there are no process groups.
func SetGroup(cmd *exec.Cmd) {}

// SignalGroup kills the process of a started cmd (there are no process
// groups, nor SIGTERM, here).
func SignalGroup(cmd *exec.Cmd, kill bool) { cmd.Process.Kill() }
