package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// crashChildEnv names the node directory when the test binary runs as the
// writer that is killed.
const crashChildEnv = "NRMNET_STORAGE_CRASH_CHILD"

// TestCrashSafety runs a writer in a subprocess that creates, updates and
// reads cases from several goroutines and prints each acknowledged write,
// kills it with SIGKILL (no Close, no final sync or witness update) at a
// random moment, and reopens the store: every acknowledged write must be
// there, the audit log must verify, and the witness must accept the log.
// Three rounds run on the same node directory.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("subprocess test")
	}
	cfg := newNode(t)
	node := filepath.Dir(cfg.DataDir)
	acked := map[v1.CaseID]uint64{} // highest acknowledged revision
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+node)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 200 + round*150
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ACK" {
				continue
			}
			rev, _ := strconv.ParseUint(f[2], 10, 64)
			id := v1.CaseID(f[1])
			acked[id] = max(acked[id], rev)
			if n++; n == killAfter {
				cmd.Process.Kill()
			}
		}
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: the writer stopped after %d acknowledgements", round, n)
		}

		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("round %d: Open after the crash: %v", round, err)
		}
		for id, rev := range acked {
			c, err := s.Case(context.Background(), id, worker)
			if err != nil {
				t.Fatalf("round %d: acknowledged case %s: %v", round, id, err)
			}
			if c.Revision < rev {
				t.Errorf("round %d: case %s at revision %d, revision %d was acknowledged", round, id, c.Revision, rev)
			}
		}
		size := mustVerify(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acknowledgements; %d cases acknowledged so far, all present; audit log of %d entries verifies", round, n, len(acked), size)
	}
}

// crashChild writes until it is killed.
func crashChild(node string) {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(node, "data")
	cfg.KeysDir = filepath.Join(node, "keys")
	cfg.Authority = testAuthority
	cfg.SyncInterval = 20 * time.Millisecond
	cfg.SyncReads = false // the lazily synced reads must not break the log either
	s, err := Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	ack := func(c *v1.Case) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("ACK %s %d\n", c.ID, c.Revision)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := newCase(v1.NewID())
				if err := s.CreateCase(ctx, c, worker); err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				ack(c)
				for range 2 {
					if _, err := s.Case(ctx, c.ID, worker); err != nil {
						os.Exit(2)
					}
					c = nextRevision(c, v1.StateRGPositive)
					if err := s.UpdateCase(ctx, c, worker); err != nil {
						fmt.Fprintln(os.Stderr, "crash child:", err)
						os.Exit(2)
					}
					ack(c)
				}
			}
		}()
	}
	wg.Wait()
}
