package benchreport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Report is one run of the suites: what the Markdown and JSON files hold.
type Report struct {
	Mode    Mode          `json:"mode"`
	Started time.Time     `json:"started"`
	Took    float64       `json:"took_seconds"`
	Commit  string        `json:"commit,omitempty"`
	Dirty   bool          `json:"dirty"`
	Machine Machine       `json:"machine"`
	Suites  []SuiteReport `json:"suites"`
}

// SuiteReport is one suite's figures.
type SuiteReport struct {
	Name             string   `json:"name"`
	Package          string   `json:"package"`
	About            string   `json:"about"`
	Command          string   `json:"command"`
	Took             float64  `json:"took_seconds"`
	Rows             []Row    `json:"rows"`
	NoBaseline       []string `json:"no_baseline,omitempty"`
	MissingBaselines []string `json:"missing_baselines,omitempty"`
	// Error says why the suite failed; its rows are what it printed
	// before failing.
	Error string `json:"error,omitempty"`
	// Raw is go test's output as printed, for benchstat.
	Raw string `json:"-"`
}

// Config is what Runner runs.
type Config struct {
	Mode   Mode
	Suites []Suite
	// ModuleDir is the root of the nrmnet source tree; empty means
	// search upward from the working directory.
	ModuleDir string
	// Benchtime and Count, when set, override every suite's.
	Benchtime string
	Count     int
	// Progress receives one line per result and per suite (stderr).
	Progress io.Writer
	Logger   *slog.Logger
}

// DefaultConfig runs every suite in quick mode from the working directory.
func DefaultConfig() Config {
	return Config{Mode: Quick, Suites: Suites(), Progress: io.Discard}
}

// Validate checks the mode, the overrides and every suite.
func (c Config) Validate() error {
	var errs []error
	if c.Mode != Quick && c.Mode != Full {
		errs = append(errs, fmt.Errorf("%w: mode %q is neither quick nor full", ErrSuite, c.Mode))
	}
	if len(c.Suites) == 0 {
		errs = append(errs, fmt.Errorf("%w: no suite to run", ErrSuite))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("%w: count %d is negative", ErrSuite, c.Count))
	}
	if c.Benchtime != "" && !validBenchtime(c.Benchtime) {
		errs = append(errs, fmt.Errorf("%w: benchtime %q is neither a count (100x) nor a duration (2s)", ErrSuite, c.Benchtime))
	}
	for _, s := range c.Suites {
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validBenchtime(s string) bool {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		v, err := strconv.Atoi(n)
		return err == nil && v > 0
	}
	d, err := time.ParseDuration(s)
	return err == nil && d > 0
}

// Runner runs suites with the go tool in the module's tree.
type Runner struct {
	cfg    Config
	goTool string
	module string
}

// NewRunner validates cfg and finds the go tool and the module root.
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("%w (%v): install Go and run nrmnet bench from the source tree", ErrNoGoTool, err)
	}
	dir := cfg.ModuleDir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	module, err := FindModule(dir)
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, goTool: goTool, module: module}, nil
}

// ModuleDir is the root of the source tree the runner uses.
func (r *Runner) ModuleDir() string { return r.module }

// FindModule returns the directory at or above dir whose go.mod declares
// module nrmnet.
func FindModule(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modulePath(b) == "nrmnet" {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w at or above %s: run from a checkout of the repository, or pass its path", ErrNoModule, abs)
		}
	}
}

func modulePath(gomod []byte) string {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Args is the go test command line of s in this runner's mode.
func (r *Runner) Args(s Suite) []string {
	run := s.RunFor(r.cfg.Mode)
	bt, count := run.Benchtime, run.Count
	if r.cfg.Benchtime != "" {
		bt = r.cfg.Benchtime
	}
	if r.cfg.Count > 0 {
		count = r.cfg.Count
	}
	args := []string{"test", "-run", "^$", "-bench", run.Bench}
	if bt != "" {
		args = append(args, "-benchtime", bt)
	}
	return append(args, "-count", strconv.Itoa(count), "-timeout", run.Timeout.String(), s.Package)
}

// Command is the suite's command as a shell line, for the report.
func (r *Runner) Command(s Suite) string {
	var b strings.Builder
	for _, e := range s.RunFor(r.cfg.Mode).Env {
		b.WriteString(e + " ")
	}
	b.WriteString("go")
	for _, a := range r.Args(s) {
		if strings.ContainsAny(a, "^$|()*? ") || a == "" {
			a = "'" + a + "'"
		}
		b.WriteString(" " + a)
	}
	return b.String()
}

// Run runs every suite in order and returns the report. A suite that fails
// is recorded in its SuiteReport (the others still run) and the returned
// error joins every failure, each wrapping ErrSuiteFailed.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	rep := &Report{Mode: r.cfg.Mode, Started: time.Now().UTC()}
	rep.Machine = ProbeMachine(ctx, r.goTool, r.module)
	rep.Commit, rep.Dirty = gitCommit(ctx, r.module)
	var errs []error
	for i, s := range r.cfg.Suites {
		fmt.Fprintf(r.cfg.Progress, "[%d/%d] %s: %s\n", i+1, len(r.cfg.Suites), s.Name, r.Command(s))
		sr, err := r.runSuite(ctx, s)
		rep.Suites = append(rep.Suites, sr)
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(r.cfg.Progress, "[%d/%d] %s FAILED after %.0fs: %v\n", i+1, len(r.cfg.Suites), s.Name, sr.Took, err)
		} else {
			fmt.Fprintf(r.cfg.Progress, "[%d/%d] %s done in %.0fs, %d figures\n", i+1, len(r.cfg.Suites), s.Name, sr.Took, len(sr.Rows))
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	rep.Machine.LoadEnd = loadAverage()
	rep.Took = time.Since(rep.Started).Seconds()
	return rep, errors.Join(errs...)
}

// progressWriter passes go test's output to the parser and prints each
// result line, shortened, as progress.
type progressWriter struct {
	suite string
	out   io.Writer
	buf   []byte
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := string(p.buf[:i])
		p.buf = p.buf[i+1:]
		f := strings.Fields(line)
		if len(f) >= 4 && isBenchName(f[0]) && isNumber(f[1]) {
			fmt.Fprintf(p.out, "    %s %s %s %s\n", p.suite, f[0], f[2], f[3])
		} else if strings.Contains(line, "FAIL") || strings.Contains(line, "panic:") {
			fmt.Fprintf(p.out, "    %s: %s\n", p.suite, line)
		}
	}
	return len(b), nil
}

func (r *Runner) runSuite(ctx context.Context, s Suite) (SuiteReport, error) {
	sr := SuiteReport{Name: s.Name, Package: s.Package, About: s.About, Command: r.Command(s)}
	start := time.Now()
	cmd := exec.CommandContext(ctx, r.goTool, r.Args(s)...)
	cmd.Dir = r.module
	cmd.Env = append(os.Environ(), s.RunFor(r.cfg.Mode).Env...)
	ownProcessGroup(cmd) // on cancel, go test and the test binary it started both end
	cmd.WaitDelay = 10 * time.Second
	var raw bytes.Buffer
	pw := &progressWriter{suite: s.Name, out: r.cfg.Progress}
	w := io.MultiWriter(&raw, pw)
	cmd.Stdout, cmd.Stderr = w, w
	runErr := cmd.Run()
	sr.Took = time.Since(start).Seconds()
	sr.Raw = raw.String()
	out, perr := Parse(bytes.NewReader(raw.Bytes()))
	var errs []error
	if perr != nil {
		errs = append(errs, perr)
	} else {
		p, err := Build(s, out.Results)
		if err != nil {
			errs = append(errs, err)
		}
		sr.Rows, sr.NoBaseline, sr.MissingBaselines = p.Rows, p.NoBaseline, p.MissingBaselines
		if len(out.Results) == 0 && runErr == nil {
			errs = append(errs, errors.New("go test printed no benchmark result: does -bench match a benchmark?"))
		}
	}
	if runErr != nil {
		errs = append(errs, fmt.Errorf("go test: %w; last output:\n%s", runErr, tail(raw.String(), 15)))
	}
	if len(errs) > 0 {
		err := fmt.Errorf("%w: %s: %w", ErrSuiteFailed, s.Name, errors.Join(errs...))
		sr.Error = err.Error()
		return sr, err
	}
	r.cfg.Logger.Info("suite done", "suite", s.Name, "seconds", sr.Took, "figures", len(sr.Rows))
	return sr, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
