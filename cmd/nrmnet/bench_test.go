package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nrmnet/internal/benchreport"
)

// TestBenchWritesReport runs the real panel suite, once per benchmark
// (-benchtime 1x -count 1), through the command, and reads the report.
func TestBenchWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the panel benchmarks")
	}
	out := filepath.Join(t.TempDir(), "r")
	if _, err := runCLI(t, "bench", "--only", "panel", "--benchtime", "1x", "--count", "1", "--out", out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out + ".md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## panel", "| BenchmarkApply/memory |", "| BenchmarkApply/disk-encrypted-sync |",
		"BenchmarkApply/decode", "-benchtime 1x -count 1", "load average at start"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	js, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rep benchreport.Report
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Suites) != 1 || len(rep.Suites[0].Rows) != 2 {
		t.Fatalf("suites %+v", rep.Suites)
	}
	for _, r := range rep.Suites[0].Rows {
		if r.Baseline != "BenchmarkApply/decode" || r.Ratio == nil || r.Ratio.Median <= 0 || r.Value.Runs != 1 {
			t.Errorf("row %+v", r)
		}
	}
	raw, err := os.ReadFile(out + ".txt")
	if err != nil || !strings.Contains(string(raw), "BenchmarkApply/decode-") {
		t.Errorf("raw output: %v\n%s", err, raw)
	}
}

func TestBenchRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--quick", "--full"}, "exclude each other"},
		{[]string{"bench", "--only", "storage,nope"}, `unknown suite: "nope"`},
		{[]string{"bench", "--benchtime", "soon"}, `benchtime "soon"`},
		{[]string{"bench", "--module", os.TempDir()}, "source tree"},
	} {
		if _, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
