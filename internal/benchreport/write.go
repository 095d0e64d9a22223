package benchreport

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown: the machine, then one table
// per suite with each figure, its baseline, the ratio and the spread.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report (%s)\n\n", r.Mode)
	b.WriteString("Written by `nrmnet bench`; do not edit by hand. Each figure is the median over the runs of `-count`; " +
		"its baseline was measured in the same run. A ratio is value / baseline (below 1: smaller than the baseline), " +
		"taken run by run and then the median, or the ratio the benchmark reported from interleaved operations. " +
		"Spread is the largest distance of one run from the median, in percent of the median.\n\n")
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, mdEscape(v))
		}
	}
	row("date", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	row("took", fmt.Sprintf("%.0f s", r.Took))
	commit := r.Commit
	if commit != "" && r.Dirty {
		commit += " (with uncommitted changes)"
	}
	row("commit", commit)
	m := r.Machine
	row("CPUs", strconv.Itoa(m.CPUs))
	row("CPU", m.CPUModel)
	row("Go", m.GoVersion)
	row("OS", m.OS+"/"+m.Arch)
	row("kernel", m.Kernel)
	row("load average at start (1, 5, 15 min)", m.LoadStart)
	row("load average at end", m.LoadEnd)
	row("benchmark temp dir", fmt.Sprintf("%s (tmpfs: %s)", m.TempDir, yesNo(m.TempDirTmpfs)))
	row("source tree on tmpfs", yesNo(m.ModuleTmpfs))
	b.WriteString("\n")
	for _, s := range r.Suites {
		fmt.Fprintf(&b, "## %s\n\n", s.Name)
		if s.About != "" {
			fmt.Fprintf(&b, "%s\n\n", s.About)
		}
		fmt.Fprintf(&b, "```sh\n%s\n```\n\n", s.Command)
		if s.Error != "" {
			fmt.Fprintf(&b, "**Failed** after %.0f s:\n\n```\n%s\n```\n\n", s.Took, s.Error)
		}
		if len(s.Rows) > 0 {
			b.WriteString("| benchmark | value | unit | baseline | baseline value | ratio | spread (value, ratio) |\n")
			b.WriteString("|---|---|---|---|---|---|---|\n")
			for _, rw := range s.Rows {
				base, baseVal, ratio, spread := "none", "", "", pct(rw.Value.SpreadPct, rw.Value.Runs)
				if rw.Baseline != "" {
					base = rw.Baseline
				}
				if rw.BaselineValue != nil {
					baseVal = Num(rw.BaselineValue.Median)
				}
				if rw.Ratio != nil {
					ratio = Num(rw.Ratio.Median)
					spread += ", " + pct(rw.Ratio.SpreadPct, rw.Ratio.Runs)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(rw.Benchmark), Num(rw.Value.Median),
					mdEscape(rw.Unit), mdEscape(base), baseVal, ratio, spread)
			}
			b.WriteString("\n")
		}
		if len(s.NoBaseline) > 0 {
			fmt.Fprintf(&b, "No baseline: %s.\n\n", mdEscape(strings.Join(s.NoBaseline, ", ")))
		}
		if len(s.MissingBaselines) > 0 {
			fmt.Fprintf(&b, "Baseline expected but not in the output: %s.\n\n", mdEscape(strings.Join(s.MissingBaselines, "; ")))
		}
		fmt.Fprintf(&b, "Took %.0f s.\n\n", s.Took)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func pct(p float64, runs int) string {
	if runs < 2 {
		return "1 run"
	}
	return "±" + strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// Num formats v with three significant digits and no exponent.
func Num(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteRaw writes every suite's go test output, one after another, in the
// format benchstat reads.
func WriteRaw(w io.Writer, r *Report) error {
	for _, s := range r.Suites {
		if _, err := fmt.Fprintf(w, "# suite %s: %s\n%s", s.Name, s.Command, s.Raw); err != nil {
			return err
		}
		if s.Raw != "" && !strings.HasSuffix(s.Raw, "\n") {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}
