package benchreport

import (
	"math"
	"regexp"
	"slices"
)

// Summary is one figure over the runs of a -count: its median, range and
// spread.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Runs   int     `json:"runs"`
	// SpreadPct is the largest distance of a run from the median, in
	// percent of the median (0 for one run, or a zero median).
	SpreadPct float64 `json:"spread_pct"`
}

// Summarize returns the summary of vs; the zero Summary when vs is empty.
func Summarize(vs []float64) Summary {
	if len(vs) == 0 {
		return Summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	sum := Summary{Median: med, Min: s[0], Max: s[n-1], Runs: n}
	if med != 0 {
		sum.SpreadPct = math.Max(s[n-1]-med, med-s[0]) / math.Abs(med) * 100
	}
	return sum
}

// Row is one figure of the report beside its baseline and their ratio.
type Row struct {
	Benchmark string  `json:"benchmark"`
	Unit      string  `json:"unit"`
	Value     Summary `json:"value"`
	// Baseline names the baseline: another benchmark of the same run, or
	// another metric of the same benchmark ("metric plain-ns/op"). Empty
	// when the figure has none.
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue *Summary `json:"baseline_value,omitempty"`
	// Ratio is value / baseline: per run (run i of each side), then
	// summarized; or the ratio metric the benchmark reported.
	Ratio       *Summary `json:"ratio,omitempty"`
	RatioSource string   `json:"ratio_source,omitempty"`
}

// bench is one benchmark's runs, each unit's values in run order.
type bench struct {
	name  string
	units []string             // in first-seen order
	runs  map[string][]float64 // unit -> values
}

func collect(results []Result) []*bench {
	var order []*bench
	by := map[string]*bench{}
	for _, r := range results {
		b := by[r.Name]
		if b == nil {
			b = &bench{name: r.Name, runs: map[string][]float64{}}
			by[r.Name] = b
			order = append(order, b)
		}
		for _, m := range r.Metrics {
			if _, ok := b.runs[m.Unit]; !ok {
				b.units = append(b.units, m.Unit)
			}
			b.runs[m.Unit] = append(b.runs[m.Unit], m.Value)
		}
	}
	return order
}

// ratios divides a's runs by b's, run by run, up to the shorter; runs with
// a zero divisor are left out.
func ratios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

func summaryPtr(vs []float64) *Summary {
	if len(vs) == 0 {
		return nil
	}
	s := Summarize(vs)
	return &s
}

// Pairing is what Build found besides the rows.
type Pairing struct {
	Rows []Row
	// NoBaseline lists the benchmarks with at least one figure that has
	// no baseline.
	NoBaseline []string
	// MissingBaselines lists "measured: baseline" where a rule named a
	// baseline benchmark the run did not produce.
	MissingBaselines []string
}

// Build pairs each figure of results with its baseline as the suite's
// rules say. A benchmark that only serves as another's baseline gets no
// rows of its own; a metric that is a baseline or a ratio of a MetricRatio
// is shown in that pair's row.
func Build(s Suite, results []Result) (Pairing, error) {
	if err := s.Validate(); err != nil {
		return Pairing{}, err
	}
	benches := collect(results)
	byName := map[string]*bench{}
	for _, b := range benches {
		byName[b.name] = b
	}
	baselinesOf := map[string][]string{}
	isBaseline := map[string]bool{}
	var p Pairing
	for _, b := range benches {
		for _, rule := range s.Baselines {
			re := regexp.MustCompile(rule.Measured)
			m := re.FindStringSubmatchIndex(b.name)
			if m == nil {
				continue
			}
			base := string(re.ExpandString(nil, rule.Baseline, b.name, m))
			if byName[base] == nil {
				p.MissingBaselines = append(p.MissingBaselines, b.name+": "+base)
				continue
			}
			baselinesOf[b.name] = append(baselinesOf[b.name], base)
			isBaseline[base] = true
		}
	}
	for _, b := range benches {
		used := map[string]bool{}   // units shown in a MetricRatio row
		paired := map[string]bool{} // units shown beside a baseline benchmark
		var rows []Row
		for _, mr := range s.Ratios {
			val, ok := b.runs[mr.Value]
			if !ok {
				continue
			}
			row := Row{Benchmark: b.name, Unit: mr.Value, Value: Summarize(val)}
			if mr.Baseline != "" {
				bv, ok := b.runs[mr.Baseline]
				if !ok {
					continue
				}
				row.Baseline = "metric " + mr.Baseline
				row.BaselineValue = summaryPtr(bv)
				row.Ratio, row.RatioSource = summaryPtr(ratios(val, bv)), "value / baseline, per run"
			} else {
				row.Baseline = mr.BaselineLabel
			}
			if mr.Ratio != "" {
				rv, ok := b.runs[mr.Ratio]
				if !ok {
					continue
				}
				row.Ratio, row.RatioSource = summaryPtr(rv), "metric "+mr.Ratio
			}
			for _, u := range []string{mr.Value, mr.Baseline, mr.Ratio} {
				used[u] = u != "" || used[u]
			}
			rows = append(rows, row)
		}
		for _, base := range baselinesOf[b.name] {
			bb := byName[base]
			for _, u := range b.units {
				bv, ok := bb.runs[u]
				if used[u] || !ok {
					continue
				}
				rows = append(rows, Row{Benchmark: b.name, Unit: u, Value: Summarize(b.runs[u]),
					Baseline: base, BaselineValue: summaryPtr(bv),
					Ratio: summaryPtr(ratios(b.runs[u], bv)), RatioSource: "value / baseline, per run"})
				paired[u] = true
			}
		}
		if len(baselinesOf[b.name]) == 0 && len(rows) == 0 && isBaseline[b.name] {
			continue // shown as the baseline of another
		}
		lone, interleaved := false, len(rows) > 0 && len(baselinesOf[b.name]) == 0
		for _, u := range b.units {
			if used[u] || paired[u] {
				continue
			}
			if interleaved && builtin[u] {
				// A benchmark that compares sides within its own loop: testing's
				// own figures cover every side at once, not one of them.
				continue
			}
			rows = append(rows, Row{Benchmark: b.name, Unit: u, Value: Summarize(b.runs[u])})
			lone = true
		}
		if lone && countLone(rows) == len(rows) {
			p.NoBaseline = append(p.NoBaseline, b.name)
		}
		p.Rows = append(p.Rows, rows...)
	}
	return p, nil
}

// builtin are the units testing reports by itself.
var builtin = map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true, "MB/s": true}

func countLone(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Baseline == "" {
			n++
		}
	}
	return n
}
