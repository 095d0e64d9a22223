// Package benchreport runs nrmnet's benchmark suites with `go test -bench`
// and writes the report that docs/benchmarks.md quotes: every figure beside
// the baseline measured in the same run, and their ratio.
//
// It knows each suite (package, -bench pattern, how long to run it in quick
// and full mode) and which figure is the baseline of which: either another
// benchmark of the same run (BaselineRule: BenchmarkApply/memory against
// BenchmarkApply/decode) or another metric the benchmark reported itself
// (MetricRatio: ns/op against plain-ns/op, with its ratio x-plain).
//
// Parse reads Go's standard benchmark output strictly: a line that is a
// result must be a whole, well-formed result. Summarize takes the median
// and spread across -count runs, and Build pairs each figure with its
// baseline. The benchmarks live in _test.go files, so running them needs
// the module's source tree and the go tool.
package benchreport
