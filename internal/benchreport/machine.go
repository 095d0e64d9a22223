package benchreport

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"` // of the go tool that built the benchmarks
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel,omitempty"`
	LoadStart string `json:"load_start,omitempty"` // 1, 5 and 15 minute load averages
	LoadEnd   string `json:"load_end,omitempty"`
	// TempDir is where the benchmarks' b.TempDir directories are made
	// (TMPDIR), and TempDirTmpfs whether it is tmpfs, where fsync is free.
	TempDir      string `json:"temp_dir"`
	TempDirTmpfs bool   `json:"temp_dir_tmpfs"`
	// ModuleTmpfs says whether the source tree is on tmpfs.
	ModuleTmpfs bool `json:"module_tmpfs"`
}

// ProbeMachine describes this machine; fields it cannot read stay empty.
func ProbeMachine(ctx context.Context, goTool, module string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		CPUModel: cpuModel(), Kernel: kernel(), LoadStart: loadAverage(), TempDir: os.TempDir()}
	if goTool != "" {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goTool, "env", "GOVERSION").Output(); err == nil {
			if v := strings.TrimSpace(string(out)); v != "" {
				m.GoVersion = v
			}
		}
	}
	m.TempDirTmpfs = isTmpfs(m.TempDir)
	m.ModuleTmpfs = isTmpfs(module)
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gitCommit returns HEAD and whether tracked files differ from it; empty
// when git or the repository is not there.
func gitCommit(ctx context.Context, dir string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), err == nil && len(strings.TrimSpace(string(st))) > 0
}
