package benchreport

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{nil, Summary{}},
		{[]float64{5}, Summary{Median: 5, Min: 5, Max: 5, Runs: 1}},
		{[]float64{3, 1, 2}, Summary{Median: 2, Min: 1, Max: 3, Runs: 3, SpreadPct: 50}},
		{[]float64{10, 40, 20, 30}, Summary{Median: 25, Min: 10, Max: 40, Runs: 4, SpreadPct: 60}},
		{[]float64{0, 0}, Summary{Runs: 2}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func suiteNamed(t *testing.T, name string) Suite {
	t.Helper()
	for _, s := range Suites() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no suite %q", name)
	return Suite{}
}

func TestSuitesAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Suites() {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if seen[s.Name] {
			t.Errorf("suite %q twice", s.Name)
		}
		seen[s.Name] = true
	}
}

func TestBuildPairsBenchmarkWithBaselineBenchmark(t *testing.T) {
	out := mustParseFile(t, "panel.txt")
	p, err := Build(suiteNamed(t, "panel"), out.Results)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 2 || len(p.NoBaseline) != 0 || len(p.MissingBaselines) != 0 {
		t.Fatalf("got %+v", p)
	}
	r := p.Rows[0]
	if r.Benchmark != "BenchmarkApply/memory" || r.Baseline != "BenchmarkApply/decode" || r.Unit != "ns/op" {
		t.Fatalf("row %+v", r)
	}
	// panel.txt: decode 82544, 25279; memory 958065, 183084.
	if r.Value.Median != (958065+183084)/2.0 || r.BaselineValue.Median != (82544+25279)/2.0 {
		t.Errorf("medians %v / %v", r.Value.Median, r.BaselineValue.Median)
	}
	if want := (958065/82544.0 + 183084/25279.0) / 2; !near(r.Ratio.Median, want) || r.Ratio.Runs != 2 {
		t.Errorf("ratio %+v, want median %v of 2 runs", r.Ratio, want)
	}
}

func TestBuildUsesReportedRatios(t *testing.T) {
	out := mustParseFile(t, "match.txt")
	p, err := Build(suiteNamed(t, "match"), out.Results)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Row{}
	for _, r := range p.Rows {
		got[r.Unit+" vs "+r.Baseline] = r
	}
	hmac, ok := got["eval-µs/element vs HMAC-SHA512, interleaved"]
	if !ok {
		t.Fatalf("no eval/hmac row in %+v", p.Rows)
	}
	// match.txt: eval/hmac 15.87 and 19.79; eval 369.4 and 241.7.
	if !near(hmac.Ratio.Median, (15.87+19.79)/2) || hmac.RatioSource != "metric eval/hmac" || hmac.BaselineValue != nil {
		t.Errorf("eval/hmac row %+v", hmac)
	}
	if !near(hmac.Value.Median, (369.4+241.7)/2) {
		t.Errorf("eval value %+v", hmac.Value)
	}
	recv, ok := got["recv-µs/element vs metric eval-µs/element"]
	if !ok || recv.BaselineValue == nil || recv.BaselineValue.Median != hmac.Value.Median || recv.RatioSource != "metric recv/eval" {
		t.Errorf("recv row %+v", recv)
	}
	// ns/op of an interleaved benchmark is the sum of every side: not a figure of the comparison.
	if ns, ok := got["ns/op vs "]; ok {
		t.Errorf("ns/op row %+v", ns)
	}
	if len(p.Rows) != 3 {
		t.Errorf("%d rows, want 3", len(p.Rows))
	}
	for _, r := range p.Rows {
		if r.Unit == "eval/hmac" || r.Unit == "recv/eval" {
			t.Errorf("ratio metric %s has a row of its own", r.Unit)
		}
	}
}

func TestBuildStorageMetricPairs(t *testing.T) {
	results := []Result{
		{Name: "BenchmarkCreateCase", Iterations: 300, Metrics: []Metric{{400, "ns/op"}, {200, "plain-ns/op"}, {100, "plainenc-ns/op"},
			{2.1, "x-plain"}, {3.9, "x-plainenc"}, {900, "p99-ns"}, {300, "plain-p99-ns"}, {450, "plainenc-p99-ns"}}},
	}
	p, err := Build(suiteNamed(t, "storage"), results)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Rows {
		got = append(got, r.Unit+"|"+r.Baseline+"|"+Num(r.Ratio.Median)+"|"+r.RatioSource)
	}
	want := []string{
		"ns/op|metric plain-ns/op|2.10|metric x-plain",
		"ns/op|metric plainenc-ns/op|3.90|metric x-plainenc",
		"p99-ns|metric plain-p99-ns|3.00|value / baseline, per run",
		"p99-ns|metric plainenc-p99-ns|2.00|value / baseline, per run",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBuildReportsMissingAndAbsentBaselines(t *testing.T) {
	results := []Result{
		{Name: "BenchmarkStore/Set/badger", Iterations: 10, Metrics: []Metric{{5, "ns/op"}}},
		{Name: "BenchmarkStore/Get/badger", Iterations: 10, Metrics: []Metric{{4, "ns/op"}, {16, "B/op"}}},
		{Name: "BenchmarkStore/Get/boltdb", Iterations: 10, Metrics: []Metric{{8, "ns/op"}, {0, "B/op"}}},
		{Name: "BenchmarkOther", Iterations: 10, Metrics: []Metric{{1, "ns/op"}, {3, "MB/s"}}},
	}
	p, err := Build(suiteNamed(t, "raftstore"), results)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.MissingBaselines, []string{"BenchmarkStore/Set/badger: BenchmarkStore/Set/boltdb"}) {
		t.Errorf("missing %q", p.MissingBaselines)
	}
	if !reflect.DeepEqual(p.NoBaseline, []string{"BenchmarkStore/Set/badger", "BenchmarkOther"}) {
		t.Errorf("no baseline %q", p.NoBaseline)
	}
	other := 0
	for _, r := range p.Rows {
		if r.Benchmark == "BenchmarkOther" && r.Baseline == "" && r.Ratio == nil {
			other++
		}
	}
	if other != 2 {
		t.Errorf("BenchmarkOther has %d rows without baseline, want 2 (ns/op and MB/s)", other)
	}
	for _, r := range p.Rows {
		if r.Benchmark == "BenchmarkStore/Get/boltdb" {
			t.Errorf("a baseline has a row of its own: %+v", r)
		}
		if r.Benchmark == "BenchmarkStore/Get/badger" && r.Unit == "B/op" && r.Ratio != nil {
			t.Errorf("a ratio over a zero baseline: %+v", r.Ratio)
		}
		if r.Benchmark == "BenchmarkStore/Get/badger" && r.Unit == "ns/op" && r.Ratio.Median != 0.5 {
			t.Errorf("Get ratio %+v, want 0.5", r.Ratio)
		}
	}
}

func TestSelect(t *testing.T) {
	all := Suites()
	got, err := Select(all, []string{"gossip", "storage"})
	if err != nil || len(got) != 2 || got[0].Name != "storage" || got[1].Name != "gossip" {
		t.Fatalf("Select = %v, %v", got, err)
	}
	if _, err := Select(all, []string{"storage", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown suite: err = %v", err)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234567: "1234567", 123.456: "123", 12.345: "12.3", 0.5: "0.500", 0.012345: "0.0123", -2.5: "-2.50"} {
		if got := Num(v); got != want {
			t.Errorf("Num(%v) = %q, want %q", v, got, want)
		}
	}
}
