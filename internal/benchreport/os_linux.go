package benchreport

import (
	"os/exec"
	"syscall"
)

// isTmpfs reports whether dir is on tmpfs, where fsync costs nothing.
func isTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return dir != "" && syscall.Statfs(dir, &st) == nil && st.Type == 0x01021994 // TMPFS_MAGIC
}

// ownProcessGroup starts cmd in a process group of its own and, when its
// context ends, kills the whole group: go test runs the benchmarks in a
// child process that killing go alone would leave running.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
