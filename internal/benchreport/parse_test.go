package benchreport

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParseFile(t *testing.T, name string) *Output {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func TestParseCapturedOutput(t *testing.T) {
	t.Run("panel", func(t *testing.T) {
		out := mustParseFile(t, "panel.txt")
		if out.Failed {
			t.Error("a passing run is marked failed")
		}
		if got := out.Config["pkg"]; got != "nrmnet/consensus/panel" {
			t.Errorf("pkg = %q", got)
		}
		if got := out.Config["cpu"]; got != "Oxide Virtual Turin-like Processor" {
			t.Errorf("cpu = %q", got)
		}
		want := []Result{
			{Pkg: "nrmnet/consensus/panel", Name: "BenchmarkApply/decode", Procs: 2, Iterations: 200, Metrics: []Metric{{82544, "ns/op"}}, Line: 5},
			{Pkg: "nrmnet/consensus/panel", Name: "BenchmarkApply/decode", Procs: 2, Iterations: 200, Metrics: []Metric{{25279, "ns/op"}}, Line: 6},
		}
		if len(out.Results) != 6 {
			t.Fatalf("%d results, want 6", len(out.Results))
		}
		if !reflect.DeepEqual(out.Results[:2], want) {
			t.Errorf("first results:\n got %+v\nwant %+v", out.Results[:2], want)
		}
		if got := out.Results[5].Name; got != "BenchmarkApply/disk-encrypted-sync" {
			t.Errorf("last name %q: the -2 suffix, and only it, must go", got)
		}
	})
	t.Run("match, reported metrics with µ", func(t *testing.T) {
		out := mustParseFile(t, "match.txt")
		if len(out.Results) != 2 {
			t.Fatalf("%d results, want 2", len(out.Results))
		}
		r := out.Results[0]
		units := []string{}
		for _, m := range r.Metrics {
			units = append(units, m.Unit)
		}
		want := []string{"ns/op", "eval-µs/element", "eval/ed25519verify", "eval/hmac", "recv-µs/element", "recv/eval"}
		if !reflect.DeepEqual(units, want) {
			t.Errorf("units %q, want %q", units, want)
		}
		if v, _ := r.Metric("eval/hmac"); v != 15.87 {
			t.Errorf("eval/hmac = %v, want 15.87", v)
		}
	})
	t.Run("storage, ns/op overridden by ReportMetric", func(t *testing.T) {
		out := mustParseFile(t, "storage.txt")
		if len(out.Results) == 0 {
			t.Fatal("no results")
		}
		for _, r := range out.Results {
			for _, u := range []string{"ns/op", "plain-ns/op", "x-plain", "p99-ns"} {
				if _, ok := r.Metric(u); !ok && r.Name != "BenchmarkBlockChecksum" {
					t.Errorf("%s (line %d) lacks %s", r.Name, r.Line, u)
				}
			}
		}
	})
}

func TestParseJoinsSplitResultLine(t *testing.T) {
	in := "pkg: nrmnet/x\n" +
		"BenchmarkWrite-2   \tbadger 2026/12/02 07:00:00 INFO: Level 0 flushed\n" +
		"     300\t   4620000 ns/op\t  1.85 x-plain\n" +
		"PASS\n"
	out, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{{Pkg: "nrmnet/x", Name: "BenchmarkWrite", Procs: 2, Iterations: 300,
		Metrics: []Metric{{4620000, "ns/op"}, {1.85, "x-plain"}}, Line: 3}}
	if !reflect.DeepEqual(out.Results, want) {
		t.Fatalf("got %+v\nwant %+v", out.Results, want)
	}
}

func TestParsePendingNameEndsAtPass(t *testing.T) {
	out, err := Parse(strings.NewReader("BenchmarkX-2\tsome log\nPASS\n 3 4 ns/op\n"))
	if err != nil || len(out.Results) != 0 {
		t.Fatalf("results %+v, err %v: a number line after PASS is not a result", out.Results, err)
	}
}

func TestParseMarksFailure(t *testing.T) {
	in := "BenchmarkStore/Set/badger-2 \t--- FAIL: BenchmarkStore/Set/badger-2\n" +
		"    bench_test.go:12: disk full\n" +
		"FAIL\nexit status 1\nFAIL\tnrmnet/consensus/raftstore\t0.1s\n"
	out, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Failed || len(out.Results) != 0 {
		t.Fatalf("failed=%v results=%d, want a failure and no result", out.Failed, len(out.Results))
	}
}

func TestParseIgnoresWhatIsNotAResult(t *testing.T) {
	in := "goos: linux\n=== RUN   TestX\nBenchmarking is fun\n--- BENCH: BenchmarkA-2\n    a_test.go:3: 1 2 3\nok  \tnrmnet/a\t1s\n"
	out, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 0 || out.Failed || out.Config["goos"] != "linux" {
		t.Fatalf("got %+v", out)
	}
}

func TestParseRejectsMalformedResults(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"zero iterations", "BenchmarkA-2 0 12 ns/op", "positive"},
		{"no metrics", "BenchmarkA-2 100", "no metrics"},
		{"value without unit", "BenchmarkA-2 100 12 ns/op 7", "has no unit"},
		{"value not a number", "BenchmarkA-2 100 twelve ns/op", "not a number"},
		{"NaN", "BenchmarkA-2 100 NaN x-plain", "not finite"},
		{"infinite", "BenchmarkA-2 100 +Inf x-plain", "not finite"},
		{"unit twice", "BenchmarkA-2 100 1 ns/op 2 ns/op", "twice"},
		{"unit a number", "BenchmarkA-2 100 1 2 3 ns/op", "is a number"},
		{"iterations overflow", "BenchmarkA-2 99999999999999999999 1 ns/op", "positive"},
		{"not UTF-8", "BenchmarkA-2 100 1 \xff/op", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("pkg: x\n" + tc.line + "\n"))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("err %q does not name line 2 and %q", err, tc.want)
			}
		})
	}
}

func TestSplitProcs(t *testing.T) {
	for in, want := range map[string]struct {
		name  string
		procs int
	}{
		"BenchmarkA-2": {"BenchmarkA", 2},
		"BenchmarkA":   {"BenchmarkA", 1},
		"BenchmarkAppend/sync/entries-per-txn=64-8": {"BenchmarkAppend/sync/entries-per-txn=64", 8},
		"BenchmarkX/a-b": {"BenchmarkX/a-b", 1},
		"BenchmarkX-":    {"BenchmarkX-", 1},
	} {
		n, p := splitProcs(in)
		if n != want.name || p != want.procs {
			t.Errorf("splitProcs(%q) = %q, %d; want %q, %d", in, n, p, want.name, want.procs)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts is whole: positive
// iterations, finite values, units that are not numbers and not repeated;
// printing the results again and parsing them gives the same results.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"panel.txt", "match.txt", "gossip.txt", "storage.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Parse(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !strings.Contains(err.Error(), "reading benchmark output") {
				t.Fatalf("error %v wraps neither ErrMalformed nor a read error", err)
			}
			return
		}
		var again strings.Builder
		for _, r := range out.Results {
			if r.Iterations <= 0 || len(r.Metrics) == 0 || r.Procs < 1 {
				t.Fatalf("accepted %+v", r)
			}
			seen := map[string]bool{}
			again.WriteString(r.Name)
			if r.Procs != 1 {
				again.WriteString("-" + itoa(r.Procs))
			}
			again.WriteString("\t" + itoa64(r.Iterations))
			for _, m := range r.Metrics {
				if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Unit == "" || seen[m.Unit] {
					t.Fatalf("accepted metric %+v in %+v", m, r)
				}
				seen[m.Unit] = true
				again.WriteString("\t" + formatFloat(m.Value) + " " + m.Unit)
			}
			again.WriteString("\n")
		}
		out2, err := Parse(strings.NewReader(again.String()))
		if err != nil {
			t.Fatalf("reprinted results do not parse: %v\n%s", err, again.String())
		}
		if len(out2.Results) != len(out.Results) {
			t.Fatalf("%d results reprinted, %d parsed back", len(out.Results), len(out2.Results))
		}
		for i := range out.Results {
			a, b := out.Results[i], out2.Results[i]
			if a.Name != b.Name || a.Procs != b.Procs || a.Iterations != b.Iterations || !reflect.DeepEqual(a.Metrics, b.Metrics) {
				t.Fatalf("result %d changed: %+v then %+v", i, a, b)
			}
		}
	})
}
