package storage

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// memCases turns on TestMemoryAtScale:
//
//	go test ./storage -run TestMemoryAtScale -v -storage.memcases=100000
var (
	memCases = flag.Int("storage.memcases", 0, "TestMemoryAtScale: store this many synthetic cases and report resident memory and size on disk (0 skips the test)")
	memDir   = flag.String("storage.memdir", "", "TestMemoryAtScale: keep the node in this directory (on a real disk), and reuse a node already there instead of writing the cases again")
)

// Environment of the idle-node child process of TestMemoryAtScale.
const (
	memChildData = "NRMNET_MEMCHILD_DATA"
	memChildKeys = "NRMNET_MEMCHILD_KEYS"
	memChildProf = "NRMNET_MEMCHILD_HEAPPROFILE"
)

// TestMemoryAtScale stores -storage.memcases synthetic cases through the
// store (64 writers, as a busy node would batch them), closes it, and
// reports the size of data/ and keys/ on disk and the resident memory of a
// node that then opens the store afresh, lists and reads some cases and sits
// idle (measured in a child process, so that the memory used to write the
// cases is not counted). It reports figures and asserts only that the work
// succeeds: the design aim (idle RSS under 150 MB at 100,000 cases) is
// judged by the reader in docs/benchmarks.md, not by a threshold here.
func TestMemoryAtScale(t *testing.T) {
	if *memCases <= 0 {
		t.Skip("run with -storage.memcases=100000 to measure memory and disk use at scale")
	}
	n := *memCases
	dir := *memDir
	if dir == "" {
		dir = t.TempDir()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil && st.Type == 0x01021994 {
		t.Fatalf("%s is on tmpfs; set TMPDIR to a directory on a real disk", dir)
	}
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.KeysDir = filepath.Join(dir, "keys")
	cfg.Authority = testAuthority
	cfg.Logger = quietBenchLogger()
	if _, err := os.Stat(cfg.DataDir); err == nil && *memDir != "" {
		t.Logf("reusing the node in %s", dir)
	} else {
		writeCases(t, cfg, n)
	}
	for _, d := range []struct{ name, path string }{{"data/", cfg.DataDir}, {"keys/", cfg.KeysDir}} {
		files, apparent, allocated := diskUse(t, d.path)
		t.Logf("on disk, %s %d files, %.1f MiB apparent, %.1f MiB allocated (%.0f bytes a case)",
			d.name, files, mib(apparent), mib(allocated), float64(allocated)/float64(n))
	}

	// A fresh node on the same directories.
	child := exec.Command(os.Args[0], "-test.run=^TestMemoryIdleChild$", "-test.v", "-test.count=1")
	child.Env = append(os.Environ(), memChildData+"="+cfg.DataDir, memChildKeys+"="+cfg.KeysDir)
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("idle node child: %v\n%s", err, out)
	}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if _, fig, ok := strings.Cut(line, "MEMCHILD "); ok {
			t.Logf("idle node: %s", fig)
			found = true
		}
	}
	if !found {
		t.Fatalf("idle node child reported nothing:\n%s", out)
	}
}

// writeCases creates a node in cfg and stores n synthetic cases through it.
func writeCases(t *testing.T, cfg Config, n int) {
	if err := CreateKeys(cfg.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	g := synthetic.New(100, synthetic.WithAuthority(testAuthority))
	work := make(chan *v1.Case, 256)
	var failed sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := s.CreateCase(context.Background(), c, worker); err != nil {
					failed.Do(func() { firstErr = err })
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
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	took := time.Since(start)
	if got := s.CaseCount(); got != n {
		t.Fatalf("store holds %d cases, want %d", got, n)
	}
	writer := procStatus(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d cases in %v (%.0f cases/s with 64 writers); writing process: VmHWM %s, VmRSS %s",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), writer["VmHWM"], writer["VmRSS"])
}

// TestMemoryIdleChild is the idle node of TestMemoryAtScale, run in a child
// process; it is skipped otherwise.
func TestMemoryIdleChild(t *testing.T) {
	dataDir, keysDir := os.Getenv(memChildData), os.Getenv(memChildKeys)
	if dataDir == "" || keysDir == "" {
		t.Skip("run by TestMemoryAtScale")
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.KeysDir = dataDir, keysDir
	cfg.Authority = testAuthority
	cfg.Logger = quietBenchLogger()
	report := func(format string, args ...any) { fmt.Printf("MEMCHILD "+format+"\n", args...) }

	// What the table check in Open costs, on its own.
	key, err := LoadStorageKey(storageKeyPath(keysDir))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	db, err := badger.Open(cfg.dataOptions(key, cfg.logger()))
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Since(start)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	report("badger open of data/ alone %v", opened.Round(time.Millisecond))

	start = time.Now()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	report("Open (both databases, witness check, erasure ledgers, counts) %v, %d cases", time.Since(start).Round(time.Millisecond), s.CaseCount())
	ctx := context.Background()
	for _, q := range []CaseQuery{{State: v1.StateRGPending}, {DueBefore: time.Now().AddDate(1, 0, 0)}, {Responsible: testAuthority}} {
		list, err := s.ListCases(ctx, q, worker)
		if err != nil {
			t.Fatal(err)
		}
		for _, sum := range list[:min(10, len(list))] {
			if _, err := s.Case(ctx, sum.ID, worker); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Idle: let the writer's sync and witness ticks run, and return freed
	// heap to the system as the Go runtime does in time on an idle node.
	time.Sleep(2 * cfg.SyncInterval)
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(time.Second)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ps := procStatus(t)
	report("VmRSS %s (RssAnon %s, RssFile %s), VmHWM %s, Go heap in use %.1f MiB, Go runtime total from OS %.1f MiB",
		ps["VmRSS"], ps["RssAnon"], ps["RssFile"], ps["VmHWM"], mib(int64(ms.HeapInuse)), mib(int64(ms.Sys)))
	// Then what VerifyTables (run by `nrmnet audit verify`) costs.
	start = time.Now()
	if err := s.VerifyTables(); err != nil {
		t.Fatal(err)
	}
	verified := time.Since(start)
	runtime.GC()
	debug.FreeOSMemory()
	ps = procStatus(t)
	report("VerifyTables %v; afterwards VmRSS %s (RssAnon %s, RssFile %s), VmHWM %s",
		verified.Round(time.Millisecond), ps["VmRSS"], ps["RssAnon"], ps["RssFile"], ps["VmHWM"])
	if p := os.Getenv(memChildProf); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
	}
}

// procStatus returns the memory lines of /proc/self/status, e.g.
// "VmRSS" -> "123456 kB".
func procStatus(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !(strings.HasPrefix(k, "Vm") || strings.HasPrefix(k, "Rss")) {
			continue
		}
		v = strings.TrimSpace(v)
		if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			v = fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
		out[k] = v
	}
	return out
}

// diskUse returns the number of files under root, their apparent size and
// the space allocated to them.
func diskUse(t *testing.T, root string) (files int, apparent, allocated int64) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		apparent += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, apparent, allocated
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
