package benchreport

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinySuites run the benchmarks of testdata/tinymod, a module that
// declares itself nrmnet so that the runner finds it.
func tinySuites() []Suite {
	run := Run{Bench: "^BenchmarkSum$", Benchtime: "50x", Count: 2, Timeout: 2 * time.Minute}
	broken := Run{Bench: "^BenchmarkBroken$", Benchtime: "1x", Count: 1, Timeout: 2 * time.Minute, Env: []string{"TINYMOD_BREAK=1"}}
	return []Suite{
		{Name: "sum", Package: "./sum", About: "Two passes against one.", Quick: run, Full: run,
			Baselines: []BaselineRule{{Measured: `^BenchmarkSum/twice$`, Baseline: "BenchmarkSum/baseline=loop"}}},
		{Name: "broken", Package: "./sum", Quick: broken, Full: broken},
	}
}

func TestRunnerRunsRealGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a benchmark binary")
	}
	cfg := DefaultConfig()
	cfg.Suites = tinySuites()
	cfg.ModuleDir = filepath.Join("testdata", "tinymod", "sum")
	var progress bytes.Buffer
	cfg.Progress = &progress
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := r.Run(ctx)
	if !errors.Is(err, ErrSuiteFailed) || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("err = %v, want the broken suite's failure", err)
	}
	if len(rep.Suites) != 2 {
		t.Fatalf("%d suites reported", len(rep.Suites))
	}
	sum := rep.Suites[0]
	if sum.Error != "" {
		t.Fatalf("sum failed: %s", sum.Error)
	}
	var ns *Row
	for i, row := range sum.Rows {
		if row.Unit == "ns/op" {
			ns = &sum.Rows[i]
		}
	}
	if ns == nil || ns.Benchmark != "BenchmarkSum/twice" || ns.Baseline != "BenchmarkSum/baseline=loop" ||
		ns.Value.Runs != 2 || ns.BaselineValue.Runs != 2 || ns.Ratio == nil || ns.Ratio.Median <= 0 {
		t.Fatalf("ns/op row %+v in %+v", ns, sum.Rows)
	}
	if !strings.Contains(sum.Raw, "BenchmarkSum/twice") || !strings.Contains(sum.Command, "-count 2") {
		t.Errorf("raw output or command missing: %q, %q", sum.Raw, sum.Command)
	}
	if b := rep.Suites[1]; !strings.Contains(b.Error, "broken on purpose") {
		t.Errorf("broken suite's error %q does not carry go test's output", b.Error)
	}
	if !strings.Contains(progress.String(), "[1/2] sum") || !strings.Contains(progress.String(), "BenchmarkSum/twice") {
		t.Errorf("progress:\n%s", progress.String())
	}
	if rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" || rep.Machine.TempDir == "" {
		t.Errorf("machine %+v", rep.Machine)
	}
}

func TestNewRunnerRefusesWithoutGoOrModule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ModuleDir = t.TempDir()
	if _, err := NewRunner(cfg); !errors.Is(err, ErrNoModule) {
		t.Errorf("outside the tree: err = %v, want ErrNoModule", err)
	}
	t.Setenv("PATH", t.TempDir())
	cfg.ModuleDir = "."
	if _, err := NewRunner(cfg); !errors.Is(err, ErrNoGoTool) {
		t.Errorf("no go on PATH: err = %v, want ErrNoGoTool", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode, cfg.Benchtime, cfg.Count = "slow", "soon", -1
	err := cfg.Validate()
	for _, want := range []string{`mode "slow"`, `benchtime "soon"`, "count -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v does not name %s", err, want)
		}
	}
	cfg = DefaultConfig()
	cfg.Benchtime = "1x"
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

func TestArgs(t *testing.T) {
	r := &Runner{cfg: Config{Mode: Full, Benchtime: "1x"}}
	s := suiteNamed(t, "api")
	got := strings.Join(r.Args(s), " ")
	want := "test -run ^$ -bench . -benchtime 1x -count 3 -timeout 1h30m0s ./node/api"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
	if c := r.Command(s); !strings.HasPrefix(c, "NRMNET_BENCH_CASES=100000 go test -run '^$'") {
		t.Errorf("command %q", c)
	}
}

func TestRunnerStopsWhenCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a benchmark binary")
	}
	slow := Run{Bench: "^BenchmarkSlow$", Benchtime: "1x", Count: 1, Timeout: 20 * time.Minute, Env: []string{"TINYMOD_SLOW=1"}}
	cfg := DefaultConfig()
	cfg.Suites = []Suite{{Name: "slow", Package: "./sum", Quick: slow, Full: slow}, tinySuites()[0]}
	cfg.ModuleDir = filepath.Join("testdata", "tinymod")
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := r.Run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrSuiteFailed) {
		t.Fatalf("err = %v, want the suite failed and the deadline", err)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("Run took %v after its context ended", took)
	}
	if len(rep.Suites) != 1 || rep.Suites[0].Error == "" {
		t.Errorf("suites %+v: want only the cancelled one, with its error", rep.Suites)
	}
}
