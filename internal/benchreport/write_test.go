package benchreport

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixedReport is a report of the captured panel and match output on a
// described machine, for the golden files.
func fixedReport(t *testing.T) *Report {
	t.Helper()
	rep := &Report{Mode: Quick, Started: time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), Took: 42,
		Commit: "d483cb440b6ff83e5e011f50eb91225dcb2045a0", Dirty: true,
		Machine: Machine{CPUs: 2, CPUModel: "AMD EPYC", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64",
			Kernel: "6.18.44", LoadStart: "7.98 7.32 10.62", LoadEnd: "9.01 7.80 10.40", TempDir: "/tmp"}}
	for _, name := range []string{"panel", "match"} {
		s := suiteNamed(t, name)
		out := mustParseFile(t, name+".txt")
		p, err := Build(s, out.Results)
		if err != nil {
			t.Fatal(err)
		}
		r := &Runner{cfg: Config{Mode: Quick}}
		rep.Suites = append(rep.Suites, SuiteReport{Name: s.Name, Package: s.Package, About: s.About, Command: r.Command(s),
			Took: 9, Rows: p.Rows, NoBaseline: p.NoBaseline, MissingBaselines: p.MissingBaselines})
	}
	rep.Suites = append(rep.Suites, SuiteReport{Name: "broken", Package: "./broken", Command: "go test ./broken", Took: 1,
		Error: "benchmark suite failed: broken: go test: exit status 1"})
	return rep
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n%s", path, got)
	}
}

func TestWriteMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fixedReport(t)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.golden.md", b.Bytes())
}

func TestWriteJSONGolden(t *testing.T) {
	rep := fixedReport(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.golden.json", b.Bytes())
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Suites) != 3 || len(back.Suites[0].Rows) != len(rep.Suites[0].Rows) || back.Machine != rep.Machine {
		t.Errorf("JSON does not read back: %+v", back)
	}
}
