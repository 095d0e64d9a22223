package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"nrmnet/internal/benchreport"
)

func newBenchCommand() *cobra.Command {
	var quick, full bool
	var only []string
	var out, module, benchtime string
	var count int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the benchmark suites and write the report (Markdown and JSON) that docs/benchmarks.md quotes",
		Long: `bench runs every package's benchmarks with "go test -bench" and writes <out>.md
and <out>.json, and go test's own output in <out>.txt for benchstat. The report gives
the machine (CPUs, Go, kernel, load average at start and end, whether the benchmarks'
temp dir is tmpfs), the date and commit, and per suite a table of each figure (median
over -count runs) beside its baseline measured in the same run, the ratio and the
spread between runs.

The benchmarks live in _test.go files, so bench needs the source tree and the go tool:
run it from a checkout of the repository (or pass --module) with Go on PATH. It refuses
clearly when either is missing.

--quick (the default) runs a subset of each suite briefly: a few minutes on a quiet
machine, more on a loaded one. --full runs everything as docs/benchmarks.md was measured:
an hour or more. Progress goes to standard error. TMPDIR must not be tmpfs: the storage
suite refuses it, since fsync costs nothing there. If a suite fails, the others still
run, the report says which failed and why, and bench exits non-zero.

Suites: ` + suiteNames() + `.`,
		Example: `  # from the repository root: quick run of every suite, report in docs/bench-report.{md,json}
  go run ./cmd/nrmnet bench

  # two suites only, report elsewhere
  nrmnet bench --only panel,gossip --out /tmp/bench

  # everything, as docs/benchmarks.md was measured
  nrmnet bench --full --out docs/bench-report-full`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if quick && full {
				return errors.New("--quick and --full exclude each other")
			}
			cfg := benchreport.DefaultConfig()
			if full {
				cfg.Mode = benchreport.Full
			}
			suites, err := benchreport.Select(benchreport.Suites(), splitList(only))
			if err != nil {
				return fmt.Errorf("--only: %w", err)
			}
			cfg.Suites, cfg.ModuleDir, cfg.Benchtime, cfg.Count = suites, module, benchtime, count
			cfg.Progress = cmd.ErrOrStderr()
			r, err := benchreport.NewRunner(cfg)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(r.ModuleDir(), "docs", "bench-report")
			}
			out = strings.TrimSuffix(strings.TrimSuffix(out, ".md"), ".json")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			rep, runErr := r.Run(cmd.Context())
			if werr := writeBenchReport(out, rep); werr != nil {
				return errors.Join(runErr, werr)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s.md, %s.json and %s.txt (%d suites, %.0f s)\n", out, out, out, len(rep.Suites), rep.Took)
			return runErr
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "run a subset of each suite briefly (the default)")
	f.BoolVar(&full, "full", false, "run every benchmark as docs/benchmarks.md was measured (an hour or more)")
	f.StringSliceVar(&only, "only", nil, "run only these suites, comma-separated: "+suiteNames())
	f.StringVarP(&out, "out", "o", "", "write <out>.md, <out>.json and <out>.txt (default <module>/docs/bench-report)")
	f.StringVar(&module, "module", "", "the repository's root (default: found upward from the working directory)")
	f.StringVar(&benchtime, "benchtime", "", "override every suite's -benchtime (e.g. 1x, 2s)")
	f.IntVar(&count, "count", 0, "override every suite's -count")
	return cmd
}

func suiteNames() string {
	var names []string
	for _, s := range benchreport.Suites() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// writeBenchReport writes out.md, out.json and out.txt (go test's output,
// for benchstat), each replaced whole.
func writeBenchReport(out string, rep *benchreport.Report) error {
	var md, js, raw bytes.Buffer
	if err := benchreport.WriteMarkdown(&md, rep); err != nil {
		return err
	}
	if err := benchreport.WriteJSON(&js, rep); err != nil {
		return err
	}
	if err := benchreport.WriteRaw(&raw, rep); err != nil {
		return err
	}
	for path, b := range map[string][]byte{out + ".md": md.Bytes(), out + ".json": js.Bytes(), out + ".txt": raw.Bytes()} {
		tmp := path + ".partial"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return nil
}
