package node

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nrmnet/node/report"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Run at scale (see docs/benchmarks.md, "reports"):
//
//	go test ./node -run TestQuarterlyReturnAtScale -v -timeout 60m -node.reportcases=100000
var reportCases = flag.Int("node.reportcases", 300, "TestQuarterlyReturnAtScale: store this many synthetic cases on disk and time the quarterly return through the node against node/report alone")

// The child process of TestQuarterlyReturnAtScale finds the store here.
const (
	scaleChildData = "NRMNET_REPORTSCALE_DATA"
	scaleChildKeys = "NRMNET_REPORTSCALE_KEYS"
)

// scaleRounds is how many times each side runs, interleaved.
const scaleRounds = 3

// TestQuarterlyReturnAtScale stores -node.reportcases synthetic cases (300
// by default, so that the ordinary run stays quick) in an on-disk store
// with the default configuration, closes it, and then, in a child process
// that opens the store afresh (so that the memory used to write the cases
// is not counted), builds the 2025-Q1 return scaleRounds times each of two
// ways, interleaved, with nothing else held: through the node
// (Node.QuarterlyReturn: role check, one audited bulk read with
// storage.ExportCases, each case counted as it comes and dropped), and
// collected, as the node built it before it streamed (the same bulk read
// into a slice of every case, then node/report.Quarterly over it:
// collectedReturn). Then it reads every case into memory and builds the
// return scaleRounds times with node/report.Quarterly alone over them. It
// asserts that all give the same return and reports the median times,
// their ratios and the peak resident memory of each (VmHWM, reset before
// each build through /proc/self/clear_refs). Times and memory are figures
// for docs/benchmarks.md, never asserted.
func TestQuarterlyReturnAtScale(t *testing.T) {
	if *reportCases <= 0 {
		t.Skip("-node.reportcases is 0")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	n := *reportCases
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
		t.Fatalf("%s is on tmpfs, where fsync is free; set TMPDIR to a directory on a real disk", dir)
	}
	sc := storage.DefaultConfig()
	sc.DataDir = filepath.Join(dir, "data")
	sc.KeysDir = filepath.Join(dir, "keys")
	sc.Authority = testAuthority
	sc.Logger = slog.New(slog.DiscardHandler)
	storeScaleCases(t, sc, n)

	child := exec.Command(os.Args[0], "-test.run=^TestQuarterlyReturnScaleChild$", "-test.v", "-test.count=1")
	child.Env = append(os.Environ(), scaleChildData+"="+sc.DataDir, scaleChildKeys+"="+sc.KeysDir)
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if _, fig, ok := strings.Cut(line, "REPORTSCALE "); ok {
			t.Log(fig)
			found = true
		}
	}
	if !found {
		t.Fatalf("child reported nothing:\n%s", out)
	}
}

// storeScaleCases stores n synthetic cases in a new store in sc and closes
// it.
func storeScaleCases(t *testing.T, sc storage.Config, n int) {
	t.Helper()
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := fillStore(s, n); err != nil {
		s.Close()
		t.Fatal(err)
	}
	took := time.Since(t0)
	if got := s.CaseCount(); got != n {
		s.Close()
		t.Fatalf("store holds %d cases, want %d", got, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d cases in %v with 64 writers", n, took.Round(time.Millisecond))
}

// fillStore stores n synthetic cases (seed 7, revision 1) in s with 64
// writers, as a busy node batches them, and returns the first error.
func fillStore(s *storage.Store, n int) error {
	g := synthetic.New(7, synthetic.WithAuthority(testAuthority))
	work := make(chan *v1.Case, 256)
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := s.CreateCase(context.Background(), c, storage.Access{Actor: "bench"}); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for range n {
		c := g.Case()
		c.Revision = 1
		work <- c
	}
	close(work)
	wg.Wait()
	return firstErr
}

// TestQuarterlyReturnScaleChild is the measuring side of
// TestQuarterlyReturnAtScale, run in a child process; skipped otherwise.
func TestQuarterlyReturnScaleChild(t *testing.T) {
	dataDir, keysDir := os.Getenv(scaleChildData), os.Getenv(scaleChildKeys)
	if dataDir == "" || keysDir == "" {
		t.Skip("run by TestQuarterlyReturnAtScale")
	}
	say := func(format string, args ...any) { fmt.Printf("REPORTSCALE "+format+"\n", args...) }
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir = dataDir, keysDir
	sc.Authority = testAuthority
	sc.Logger = slog.New(slog.DiscardHandler)
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	cfg := DefaultConfig()
	cfg.Store = s
	cfg.Authority = testAuthority
	cfg.Logger = slog.New(slog.DiscardHandler)
	nd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	who := Principal{ID: "region", Name: "Bench", Role: RoleRegionalCoordinator, Authority: testAuthority}
	q, err := report.ParseQuarter("2025-Q1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	settle := func() map[string]float64 {
		runtime.GC()
		debug.FreeOSMemory()
		return procMemMiB(t)
	}
	say("store open: VmRSS %.1f MiB", settle()["VmRSS"])

	// A side is one way of building the return: its times, each round's
	// peak over the resident size before it, and the worst round's figures:
	// its peak, the resident size before it and the anonymous and
	// file-backed resident memory just after it (the file-backed part is
	// mostly the store's table files, mapped as they are read). Badger may
	// still be compacting the freshly written store in the background, so
	// a round can be disturbed: read the medians.
	type side struct {
		times                []time.Duration
		incs                 []float64 // MiB, per round
		base, peak           float64   // MiB, the worst round
		anonAfter, fileAfter float64
		ret                  *report.Return
	}
	// run builds the return once with build, VmHWM reset just before.
	run := func(s *side, build func() (*report.Return, error)) {
		base := settle()["VmRSS"]
		resetPeakRSS(t)
		t0 := time.Now()
		ret, err := build()
		took := time.Since(t0)
		m := procMemMiB(t)
		if err != nil {
			t.Fatal(err)
		}
		s.times = append(s.times, took)
		s.incs = append(s.incs, m["VmHWM"]-base)
		if len(s.times) == 1 || m["VmHWM"]-base > s.peak-s.base {
			s.base, s.peak, s.anonAfter, s.fileAfter = base, m["VmHWM"], m["RssAnon"], m["RssFile"]
		}
		s.ret = ret
	}

	// A first read, not measured, maps the store's table files, so that the
	// first side measured does not pay for it alone.
	warm := 0
	if err := nd.reportCases(ctx, who.access("benchmark warm-up", v1.BasisPublicTask), func(*v1.Case) error { warm++; return nil }); err != nil {
		t.Fatal(err)
	}
	say("%d cases read once, none kept: VmRSS %.1f MiB", warm, settle()["VmRSS"])
	// For some seconds after that first read, the store's background work
	// (most likely Badger compacting the freshly written store) holds a
	// few hundred MiB more, which would land in the first round measured:
	// wait, at most a minute, until the resident size stops falling. The
	// ordinary run's 300 cases need no wait.
	idle := time.Now()
	for prev, i := settle()["VmRSS"], 0; warm >= 10_000 && i < 12; i++ {
		time.Sleep(5 * time.Second)
		cur := settle()["VmRSS"]
		if cur > prev-8 {
			break
		}
		prev = cur
	}
	say("after %v idle: VmRSS %.1f MiB", time.Since(idle).Round(time.Second), settle()["VmRSS"])

	// Phase 1, nothing else held, as in a node: streamed against collected.
	var node, coll, pure side
	for range scaleRounds {
		run(&node, func() (*report.Return, error) { return nd.QuarterlyReturn(ctx, who, q) })
		run(&coll, func() (*report.Return, error) { return collectedReturn(ctx, nd, who, q) })
	}

	// Phase 2: the cases in memory for node/report alone (one bulk read,
	// kept), and node/report alone over them.
	var cases []*v1.Case
	err = nd.reportCases(ctx, who.access("benchmark baseline", v1.BasisPublicTask), func(c *v1.Case) error {
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	say("%d cases read into memory: VmRSS %.1f MiB", len(cases), settle()["VmRSS"])
	for range scaleRounds {
		run(&pure, func() (*report.Return, error) { return report.Quarterly(cases, q, nd.cal, report.DefaultConfig()) })
	}

	if !reflect.DeepEqual(node.ret, pure.ret) {
		t.Fatalf("the node's return differs from node/report's over the same cases:\nnode %+v\npure %+v", node.ret, pure.ret)
	}
	if !reflect.DeepEqual(coll.ret, pure.ret) {
		t.Fatalf("the collected return differs from node/report's over the same cases:\ncollected %+v\npure      %+v", coll.ret, pure.ret)
	}
	nm, cm, pm := median(node.times), median(coll.times), median(pure.times)
	say("%d cases, %d rounds: node (bulk ExportCases, streamed) median %v %v; collected (bulk ExportCases into a slice, then node/report) median %v %v; node / collected %.2f",
		len(cases), scaleRounds, nm.Round(time.Millisecond), roundAll(node.times, time.Millisecond), cm.Round(time.Millisecond), roundAll(coll.times, time.Millisecond), float64(nm)/float64(cm))
	say("node/report alone, the cases held, median %v %v; node / report-only %.1f",
		pm.Round(10*time.Microsecond), roundAll(pure.times, 10*time.Microsecond), float64(nm)/float64(pm))
	for _, x := range []struct {
		name string
		s    *side
	}{{"node", &node}, {"collected", &coll}, {"node/report alone", &pure}} {
		say("peak RSS (VmHWM) over the resident size before, %s: median +%.1f MiB %.1f; worst round %.1f MiB, +%.1f MiB over %.1f MiB, just after it RssAnon %.1f MiB, RssFile %.1f MiB",
			x.name, medianOf(x.s.incs), x.s.incs, x.s.peak, x.s.peak-x.s.base, x.s.base, x.s.anonAfter, x.s.fileAfter)
	}
	say("peak increase, node / collected: median %.3f, worst round %.3f", medianOf(node.incs)/medianOf(coll.incs), (node.peak-node.base)/(coll.peak-coll.base))
	runtime.KeepAlive(cases)
}

// collectedReturn builds the quarterly return as Node.QuarterlyReturn did
// before it streamed the cases: one audited bulk read (with the return's
// purpose) into a slice of every decoded case, then node/report.Quarterly
// over the slice. The role check is left out (one audit entry). It is the
// same-run baseline for the streamed return's time and memory.
func collectedReturn(ctx context.Context, nd *Node, who Principal, q report.Quarter) (*report.Return, error) {
	var cases []*v1.Case
	err := nd.reportCases(ctx, who.access(reportPurpose, v1.BasisPublicTask), func(c *v1.Case) error {
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return report.Quarterly(cases, q, nd.cal, report.DefaultConfig())
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func roundAll(ds []time.Duration, to time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(to)
	}
	return out
}

// resetPeakRSS resets VmHWM to the current resident size (Linux 4.0 and
// later: writing 5 to /proc/self/clear_refs).
func resetPeakRSS(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset peak RSS: %v", err)
	}
}

// procMemMiB returns the Vm* and Rss* lines of /proc/self/status in MiB.
func procMemMiB(t *testing.T) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !(strings.HasPrefix(k, "Vm") || strings.HasPrefix(k, "Rss")) {
			continue
		}
		if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
			out[k] = float64(kb) / 1024
		}
	}
	return out
}
