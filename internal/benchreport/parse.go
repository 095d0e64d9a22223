package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Metric is one value and its unit on a result line ("1234 ns/op").
type Metric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Result is one benchmark result line: one run of one benchmark.
type Result struct {
	Pkg        string   // the "pkg:" line in effect, if any
	Name       string   // full name without the -GOMAXPROCS suffix
	Procs      int      // GOMAXPROCS suffix, 1 when absent
	Iterations int64    // b.N
	Metrics    []Metric // in the order printed
	Line       int      // 1-based line number in the input
}

// Metric returns the value of unit, and whether the result has it.
func (r Result) Metric(unit string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Unit == unit {
			return m.Value, true
		}
	}
	return 0, false
}

// Output is a parsed benchmark output.
type Output struct {
	Config  map[string]string // first value of each "key: value" line (goos, goarch, pkg, cpu)
	Results []Result
	Failed  bool // a "--- FAIL" or "FAIL" line was seen
}

// maxLine bounds a line of benchmark output.
const maxLine = 1 << 20

// Parse reads Go benchmark output (the format `go test -bench` prints).
//
// A line whose first field starts with "Benchmark" followed by an upper-case
// letter, digit or end of word, and whose second field is a number, is a
// result and must be whole: name, a positive iteration count, then value/unit
// pairs with finite values, non-empty units and no unit twice. Anything else
// is an error naming the line. One tolerance: when a benchmark writes to the
// console while it runs, Go's line is split into the name (followed by that
// text) and, later, a line holding only the iterations and metrics; such a
// continuation is joined to the pending name.
//
// Lines that are not results (configuration, PASS, logs) are not errors;
// "key: value" lines before or between results are recorded in Config and
// pkg: lines set Result.Pkg.
func Parse(r io.Reader) (*Output, error) {
	out := &Output{Config: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var pkg, pending string
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !utf8.ValidString(line) {
			if looksLikeResult(line) {
				return nil, fmt.Errorf("line %d: %w: not UTF-8", n, ErrMalformed)
			}
			continue
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			continue
		case isBenchName(fields[0]):
			if len(fields) >= 2 && isNumber(fields[1]) {
				res, err := parseResult(fields, n)
				if err != nil {
					return nil, err
				}
				res.Pkg = pkg
				out.Results = append(out.Results, res)
				pending = ""
				continue
			}
			// The name alone, or the name followed by what the benchmark
			// printed while running: results may follow on a line of their own.
			pending = fields[0]
			if len(fields) > 2 && fields[1] == "---" {
				pending = ""
				out.Failed = out.Failed || strings.HasPrefix(fields[2], "FAIL")
			}
		case pending != "" && isNumber(fields[0]) && len(fields) >= 3 && len(fields)%2 == 1:
			res, err := parseResult(append([]string{pending}, fields...), n)
			if err != nil {
				return nil, err
			}
			res.Pkg = pkg
			out.Results = append(out.Results, res)
			pending = ""
		case strings.HasPrefix(line, "--- FAIL") || fields[0] == "FAIL" || strings.HasPrefix(strings.TrimSpace(line), "--- FAIL"):
			out.Failed = true
		case fields[0] == "PASS" || fields[0] == "ok":
			pending = ""
		default:
			if k, v, ok := configLine(line); ok {
				pending = ""
				if k == "pkg" {
					pkg = v
				}
				if _, seen := out.Config[k]; !seen {
					out.Config[k] = v
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	return out, nil
}

func looksLikeResult(line string) bool {
	f := strings.Fields(line)
	return len(f) >= 2 && strings.HasPrefix(f[0], "Benchmark")
}

// isBenchName reports whether s is a benchmark name as testing prints it:
// "Benchmark" then nothing, or a character that is not a lower-case letter.
func isBenchName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseResult(fields []string, line int) (Result, error) {
	name, procs := splitProcs(fields[0])
	res := Result{Name: name, Procs: procs, Line: line}
	it, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || it <= 0 {
		return res, fmt.Errorf("line %d: %w: %s: iterations %q is not a positive integer", line, ErrMalformed, name, fields[1])
	}
	res.Iterations = it
	rest := fields[2:]
	if len(rest) == 0 {
		return res, fmt.Errorf("line %d: %w: %s: no metrics after the iteration count", line, ErrMalformed, name)
	}
	if len(rest)%2 != 0 {
		return res, fmt.Errorf("line %d: %w: %s: %q has no unit", line, ErrMalformed, name, rest[len(rest)-1])
	}
	for i := 0; i < len(rest); i += 2 {
		v, err := strconv.ParseFloat(rest[i], 64)
		if err != nil {
			return res, fmt.Errorf("line %d: %w: %s: value %q is not a number", line, ErrMalformed, name, rest[i])
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return res, fmt.Errorf("line %d: %w: %s: value %q of %s is not finite", line, ErrMalformed, name, rest[i], rest[i+1])
		}
		unit := rest[i+1]
		if _, dup := res.Metric(unit); dup {
			return res, fmt.Errorf("line %d: %w: %s: unit %q appears twice", line, ErrMalformed, name, unit)
		}
		if _, err := strconv.ParseFloat(unit, 64); err == nil {
			return res, fmt.Errorf("line %d: %w: %s: unit %q is a number", line, ErrMalformed, name, unit)
		}
		res.Metrics = append(res.Metrics, Metric{Value: v, Unit: unit})
	}
	return res, nil
}

// splitProcs removes the -N suffix testing adds for GOMAXPROCS.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || !isNumber(name[i+1:]) {
		return name, 1
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 {
		return name, 1
	}
	return name[:i], p
}

// configLine matches "key: value" with a lower-case key without spaces.
func configLine(line string) (string, string, bool) {
	k, v, ok := strings.Cut(line, ": ")
	if !ok || k == "" {
		return "", "", false
	}
	r, _ := utf8.DecodeRuneInString(k)
	if !unicode.IsLower(r) {
		return "", "", false
	}
	for _, c := range k {
		if unicode.IsSpace(c) || unicode.IsUpper(c) {
			return "", "", false
		}
	}
	return k, strings.TrimSpace(v), true
}
