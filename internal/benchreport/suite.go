package benchreport

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Mode is how long the suites run.
type Mode string

// Modes.
const (
	// Quick runs a subset of each suite briefly: a few minutes in all, for CI.
	Quick Mode = "quick"
	// Full runs every benchmark as docs/benchmarks.md was measured.
	Full Mode = "full"
)

// Run is how one suite runs in one mode.
type Run struct {
	Bench     string        // -bench pattern
	Benchtime string        // -benchtime, e.g. "300x"
	Count     int           // -count
	Timeout   time.Duration // -timeout
	Env       []string      // extra environment, KEY=value
}

// BaselineRule makes one benchmark the baseline of another in the same run:
// a benchmark whose name matches Measured has as baseline the benchmark
// named by expanding Baseline with the match ($1 and so on).
type BaselineRule struct {
	Measured string
	Baseline string
}

// MetricRatio pairs two metrics one benchmark reported itself, measured
// interleaved in the same loop: Value against Baseline, with Ratio the
// metric holding their ratio. Baseline may be empty when the benchmark
// reports only the ratio (BaselineLabel then names what was compared);
// Ratio may be empty, and the ratio is then Value/Baseline per run.
type MetricRatio struct {
	Value         string
	Baseline      string
	BaselineLabel string
	Ratio         string
}

// Suite is the benchmarks of one package and how to read them.
type Suite struct {
	Name      string // short name for --only
	Package   string // import path relative to the module root, "./storage"
	About     string // what is compared, one or two sentences
	Quick     Run
	Full      Run
	Baselines []BaselineRule
	Ratios    []MetricRatio
}

// RunFor returns the run of mode.
func (s Suite) RunFor(m Mode) Run {
	if m == Full {
		return s.Full
	}
	return s.Quick
}

// Validate checks the suite's fields and its rules' patterns.
func (s Suite) Validate() error {
	var problems []string
	if s.Name == "" || strings.ContainsAny(s.Name, ", \t") {
		problems = append(problems, fmt.Sprintf("name %q is empty or holds a comma or space", s.Name))
	}
	if !strings.HasPrefix(s.Package, "./") {
		problems = append(problems, fmt.Sprintf("package %q is not relative to the module root (./...)", s.Package))
	}
	for _, r := range []Run{s.Quick, s.Full} {
		if r.Bench == "" || r.Count < 1 || r.Timeout <= 0 {
			problems = append(problems, fmt.Sprintf("run %+v needs a -bench pattern, a count of at least 1 and a timeout", r))
		}
		if _, err := regexp.Compile(strings.ReplaceAll(r.Bench, "/", "")); err != nil {
			problems = append(problems, fmt.Sprintf("-bench %q: %v", r.Bench, err))
		}
	}
	for _, b := range s.Baselines {
		if _, err := regexp.Compile(b.Measured); err != nil {
			problems = append(problems, fmt.Sprintf("baseline rule %q: %v", b.Measured, err))
		}
	}
	for _, m := range s.Ratios {
		if m.Value == "" || (m.Baseline == "" && m.Ratio == "") || (m.Baseline == "" && m.BaselineLabel == "") {
			problems = append(problems, fmt.Sprintf("metric ratio %+v needs a value and a baseline metric, or a ratio metric and a label", m))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: suite %q: %s", ErrSuite, s.Name, strings.Join(problems, "; "))
	}
	return nil
}

// Select returns the suites named in only (all when only is empty), in
// the order of suites, or an error naming those it does not know.
func Select(suites []Suite, only []string) ([]Suite, error) {
	if len(only) == 0 {
		return suites, nil
	}
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimSpace(n)] = true
	}
	var out []Suite
	for _, s := range suites {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	if len(want) > 0 {
		var unknown, known []string
		for n := range want {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
		for _, s := range suites {
			known = append(known, s.Name)
		}
		return nil, fmt.Errorf("%w: %s (known: %s)", ErrUnknownSuite, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// storageRatios are the metrics of storage/bench_test.go's report().
var storageRatios = []MetricRatio{
	{Value: "ns/op", Baseline: "plain-ns/op", Ratio: "x-plain"},
	{Value: "ns/op", Baseline: "plainenc-ns/op", Ratio: "x-plainenc"},
	{Value: "p99-ns", Baseline: "plain-p99-ns"},
	{Value: "p99-ns", Baseline: "plainenc-p99-ns"},
	{Value: "ns/op", Baseline: "noverify-ns/op", Ratio: "x-noverify"},
	{Value: "p99-ns", Baseline: "noverify-p99-ns"},
}

// Suites are nrmnet's benchmark suites, in the order of the report.
func Suites() []Suite {
	const m = time.Minute
	return []Suite{
		{
			Name: "storage", Package: "./storage",
			About: "The encrypted, audited case store against plain synced Badger (plain) and Badger with encryption at rest (plainenc), " +
				"interleaved op by op; block checksums on against off. Refuses a tmpfs TMPDIR.",
			Quick: Run{Bench: "^(BenchmarkCreateCase|BenchmarkCreateCaseConcurrent|BenchmarkBlockChecksum)$", Benchtime: "60x", Count: 3, Timeout: 10 * m},
			Full: Run{Bench: "^(BenchmarkCreateCase|BenchmarkCreateCaseConcurrent|BenchmarkUpdateCase|BenchmarkCase|BenchmarkListCases|BenchmarkBlockChecksum)$",
				Benchtime: "300x", Count: 6, Timeout: 90 * m},
			Ratios: storageRatios,
		},
		{
			Name: "auditlog", Package: "./storage/auditlog",
			About: "The Merkle audit log in Badger. Appending 64 entries per synced transaction is compared with one entry per transaction " +
				"(per entry); the proofs, Verify and WitnessRecord have no baseline.",
			Quick:     Run{Bench: "^(BenchmarkAppend|BenchmarkWitnessRecord)$", Benchtime: "30x", Count: 3, Timeout: 10 * m},
			Full:      Run{Bench: ".", Benchtime: "1s", Count: 6, Timeout: 60 * m},
			Baselines: []BaselineRule{{Measured: `^BenchmarkAppend/sync/entries-per-txn=64$`, Baseline: "BenchmarkAppend/sync/entries-per-txn=1"}},
		},
		{
			Name: "raftstore", Package: "./consensus/raftstore",
			About:     "hashicorp/raft's log-store suite against this store (Badger, encrypted, synced) and raft-boltdb v1 (BoltDB), same disk, same run.",
			Quick:     Run{Bench: "^BenchmarkStore$", Benchtime: "200x", Count: 3, Timeout: 10 * m},
			Full:      Run{Bench: "^BenchmarkStore$", Benchtime: "1s", Count: 5, Timeout: 60 * m},
			Baselines: []BaselineRule{{Measured: `^BenchmarkStore/(.+)/badger$`, Baseline: "BenchmarkStore/$1/boltdb"}},
		},
		{
			Name: "transport", Package: "./consensus/transport",
			About: "A three- and a five-server Raft over the libp2p stream layer against the same Raft over raft's TCP transport, interleaved in rounds of 100 commits.",
			Quick: Run{Bench: "^BenchmarkCommit3Nodes$", Benchtime: "200x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: "^BenchmarkCommit(3|5)Nodes$", Benchtime: "2000x", Count: 5, Timeout: 60 * m},
			Ratios: []MetricRatio{
				{Value: "libp2p-commits/s", Baseline: "tcp-commits/s", Ratio: "throughput-ratio"},
				{Value: "libp2p-p50-ms", Baseline: "tcp-p50-ms", Ratio: "p50-ratio"},
				{Value: "libp2p-p99-ms", Baseline: "tcp-p99-ms", Ratio: "p99-ratio"},
			},
		},
		{
			Name: "panel", Package: "./consensus/panel",
			About:     "Applying one open_case command to the panel FSM, in memory and on disk (encrypted, synced), against decoding it alone.",
			Quick:     Run{Bench: "^BenchmarkApply$", Benchtime: "500x", Count: 3, Timeout: 10 * m},
			Full:      Run{Bench: "^BenchmarkApply$", Benchtime: "2000x", Count: 6, Timeout: 30 * m},
			Baselines: []BaselineRule{{Measured: `^BenchmarkApply/(memory|disk-encrypted-sync)$`, Baseline: "BenchmarkApply/decode"}},
		},
		{
			Name: "gossip", Package: "./federation/gossip",
			About:     "The alert validator's CPU cost against the ed25519 verification every alert needs anyway.",
			Quick:     Run{Bench: "^BenchmarkValidateAlert$", Benchtime: "2000x", Count: 3, Timeout: 10 * m},
			Full:      Run{Bench: "^BenchmarkValidateAlert$", Benchtime: "1s", Count: 6, Timeout: 30 * m},
			Baselines: []BaselineRule{{Measured: `^BenchmarkValidateAlert/validator$`, Baseline: "BenchmarkValidateAlert/baseline=ed25519.Verify"}},
		},
		{
			Name: "match", Package: "./federation/match",
			About: "The OPRF match per element against HMAC-SHA512 (the rejected shared-key design) and an ed25519 verification: " +
				"interleaved in BenchmarkEvaluateRatios, as separate benchmarks in the full run; the receiver's blind and finalise " +
				"of a full request in one part per CPU against one part, interleaved in BenchmarkReceiverParts.",
			Quick: Run{Bench: "^(BenchmarkEvaluateRatios|BenchmarkReceiverParts)$", Benchtime: "50x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: ".", Benchtime: "300x", Count: 6, Timeout: 60 * m},
			Baselines: []BaselineRule{
				{Measured: `^BenchmarkIssuerEvaluate$`, Baseline: "BenchmarkBaselineHMAC"},
				{Measured: `^BenchmarkIssuerEvaluate$`, Baseline: "BenchmarkBaselineEd25519Verify"},
				{Measured: `^BenchmarkReceiverBlindFinalize$`, Baseline: "BenchmarkIssuerEvaluate"},
			},
			Ratios: []MetricRatio{
				{Value: "eval-µs/element", BaselineLabel: "HMAC-SHA512, interleaved", Ratio: "eval/hmac"},
				{Value: "eval-µs/element", BaselineLabel: "ed25519 verify, interleaved", Ratio: "eval/ed25519verify"},
				{Value: "recv-µs/element", Baseline: "eval-µs/element", Ratio: "recv/eval"},
				{Value: "parallel-µs/element", Baseline: "serial-µs/element", Ratio: "parallel/serial"},
			},
		},
		{
			Name: "rpc", Package: "./federation/rpc",
			About: "Receiving a case through the hand-over protocol frame against decoding the envelope alone; a whole hand-over between two hosts " +
				"on loopback against one signed exchange on the same hosts.",
			Quick: Run{Bench: "^(BenchmarkDecodeCase|BenchmarkHandover)$", Benchtime: "100x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: "^(BenchmarkDecodeCase|BenchmarkHandover)$", Benchtime: "1000x", Count: 6, Timeout: 30 * m},
			Baselines: []BaselineRule{
				{Measured: `^BenchmarkDecodeCase/frame$`, Baseline: "BenchmarkDecodeCase/baseline"},
				{Measured: `^BenchmarkHandover/handover$`, Baseline: "BenchmarkHandover/baseline-exchange"},
			},
		},
		{
			Name: "api", Package: "./node/api",
			About: "The HTTP API on loopback (auth, role check, strict decoding, rules, audit) against the store alone, over a store on disk " +
				"preloaded with NRMNET_BENCH_CASES cases (1,000 quick, 100,000 full).",
			Quick: Run{Bench: "^(BenchmarkCreateCase|BenchmarkReadCase)$", Benchtime: "100x", Count: 3, Timeout: 10 * m,
				Env: []string{"NRMNET_BENCH_CASES=1000"}},
			Full: Run{Bench: ".", Benchtime: "2000x", Count: 3, Timeout: 90 * m, Env: []string{"NRMNET_BENCH_CASES=100000"}},
			Baselines: []BaselineRule{
				{Measured: `^Benchmark(CreateCase|ReadCase)/api$`, Baseline: "Benchmark$1/store"},
				{Measured: `^BenchmarkQuarterlyReturn/api$`, Baseline: "BenchmarkQuarterlyReturn/report-only"},
			},
		},
		{
			Name: "report", Package: "./node/report",
			About: "The quarterly return and the referrals table over 100,000 synthetic cases against a scan reading the same fields.",
			Quick: Run{Bench: ".", Benchtime: "3x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: ".", Benchtime: "10x", Count: 6, Timeout: 30 * m},
			Baselines: []BaselineRule{
				{Measured: `^Benchmark(Quarterly|Referrals)$`, Baseline: "BenchmarkScanBaseline"},
			},
		},
		{
			Name: "node-report", Package: "./node",
			About: "The node's quarterly return from an on-disk store: one audited bulk read (ExportCases) against reading every case one by one, " +
				"interleaved; over NRMNET_BENCH_CASES cases.",
			Quick:  Run{Bench: "^BenchmarkQuarterlyReturn$", Benchtime: "2x", Count: 2, Timeout: 10 * m, Env: []string{"NRMNET_BENCH_CASES=1000"}},
			Full:   Run{Bench: "^BenchmarkQuarterlyReturn$", Benchtime: "5x", Count: 3, Timeout: 60 * m, Env: []string{"NRMNET_BENCH_CASES=10000"}},
			Ratios: []MetricRatio{{Value: "bulk-ms", Baseline: "per-case-ms", Ratio: "x-per-case"}},
		},
		{
			Name: "node-candidates", Package: "./node",
			About: "Finding a received alert's match candidates through the sealed candidate index against decrypting every case " +
				"(the full scan), interleaved, over NRMNET_BENCH_CASES cases; both find the same candidates.",
			Quick:  Run{Bench: "^BenchmarkAlertCandidates$", Benchtime: "2x", Count: 2, Timeout: 10 * m, Env: []string{"NRMNET_BENCH_CASES=2000"}},
			Full:   Run{Bench: "^BenchmarkAlertCandidates$", Benchtime: "3x", Count: 3, Timeout: 60 * m, Env: []string{"NRMNET_BENCH_CASES=50000"}},
			Ratios: []MetricRatio{{Value: "indexed-ms", Baseline: "full-ms", Ratio: "x-full"}},
		},
		{
			Name: "schemas", Package: "./schemas/v1",
			About: "Sealing and opening the golden case record (canonical CBOR, CID). No baseline.",
			Quick: Run{Bench: ".", Benchtime: "2000x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: ".", Benchtime: "1s", Count: 6, Timeout: 30 * m},
		},
		{
			Name: "matchkeys", Package: "./node/matchkeys",
			About: "Deriving one identity's match keys (folding and encoding). No baseline.",
			Quick: Run{Bench: "^BenchmarkKeys$", Benchtime: "2000x", Count: 3, Timeout: 10 * m},
			Full:  Run{Bench: "^BenchmarkKeys$", Benchtime: "1s", Count: 6, Timeout: 30 * m},
		},
	}
}
