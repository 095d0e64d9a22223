package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage/auditlog"
)

// TestTableCorruptionIsReported writes cases, closes the store, flips one
// byte inside a table file of data/ (a fresh copy of the node for each of
// several positions across the table's data blocks), reopens and reads
// everything back: every read either returns exactly what was written or
// fails with an error. Silent wrong data (a summary with another state or
// deadline) fails the test, an Open that fails must say the store is damaged
// (ErrDamaged, or auditlog.ErrTampered from the witness check), and
// VerifyTables (what `nrmnet audit verify` runs) must report ErrDamaged
// every time. Badger's encryption is AES-CTR
// with no integrity of its own: block checksums (OnBlockRead on every read
// from a table file, and VerifyTables over all of them), the per-case
// AES-GCM and the audit log's Verify are what report damage. A list cut
// short by a bad block is counted as reported, but it would be silent to a
// user: Badger's iterators stop at a bad block without an error, which is
// why VerifyTables exists.
func TestTableCorruptionIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and re-reads a store for each corrupted position")
	}
	const n = 300
	cfg := newNode(t)
	cfg.Logger = quietBenchLogger() // Badger's errors about the damage are expected
	s := mustOpenNoCleanup(t, cfg)
	g := synthetic.New(11, synthetic.WithAuthority(testAuthority))
	want := map[v1.CaseID][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *v1.Case)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := s.CreateCase(context.Background(), c, worker); err != nil {
					t.Error(err)
					continue
				}
				b, err := v1.Marshal(c)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				want[c.ID] = b
				mu.Unlock()
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
	if t.Failed() {
		t.FailNow()
	}
	mustClose(t, s)

	table, size := largestTable(t, cfg.DataDir)
	t.Logf("corrupting %s (%d bytes)", filepath.Base(table), size)
	// Data blocks fill the front of a table; its index and footer are at
	// the end. Positions from 1% to 60% of the file land in data blocks.
	for _, pct := range []int{1, 5, 12, 20, 33, 45, 60, 70, 80, 88, 94, 98} {
		t.Run(fmt.Sprintf("at=%d%%", pct), func(t *testing.T) {
			node := t.TempDir()
			c := cfg
			c.DataDir = filepath.Join(node, "data")
			c.KeysDir = filepath.Join(node, "keys")
			copyDir(t, cfg.DataDir, c.DataDir)
			copyDir(t, cfg.KeysDir, c.KeysDir)
			path := filepath.Join(c.DataDir, filepath.Base(table))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := len(b) * pct / 100
			b[off] ^= 0x10
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			reported := readEverything(t, c, want)
			if len(reported) == 0 {
				t.Fatalf("byte %d of %s flipped, and every read succeeded with the data written: the damage went unreported", off, filepath.Base(table))
			}
			t.Logf("byte %d flipped; reported by: %s", off, strings.Join(reported, "; "))
		})
	}
}

// largestTable returns the largest .sst file in dir and its size.
func largestTable(t *testing.T, dir string) (string, int64) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no table files in %s (%v)", dir, err)
	}
	var best string
	var size int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > size {
			best, size = p, fi.Size()
		}
	}
	return best, size
}

// readEverything opens the store in cfg and reads every case in want, lists
// every case, and verifies the audit log. It fails the test for any read
// that returns data other than what was written, and returns a description
// of each error (or panic) that reported damage.
func readEverything(t *testing.T, cfg Config, want map[v1.CaseID][]byte) (reported []string) {
	t.Helper()
	guard := func(what string, fn func() error) {
		defer func() {
			if r := recover(); r != nil {
				reported = append(reported, fmt.Sprintf("%s: panic: %v", what, r))
			}
		}()
		if err := fn(); err != nil {
			reported = append(reported, fmt.Sprintf("%s: %.200v", what, err))
		}
	}
	var s *Store
	guard("open", func() error {
		var err error
		s, err = Open(cfg)
		if err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, auditlog.ErrTampered) {
			t.Errorf("Open of a damaged store: %v, want an error wrapping ErrDamaged or auditlog.ErrTampered", err)
		}
		return err
	})
	if s == nil {
		return reported
	}
	defer func() {
		guard("close", s.Close)
	}()
	ids := make([]v1.CaseID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	readErrs := 0
	for _, id := range ids {
		before := len(reported)
		guard("read case", func() error {
			c, err := s.Case(context.Background(), id, worker)
			if err != nil {
				return err
			}
			got, err := v1.Marshal(c)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want[id]) {
				t.Errorf("case %s read back without error but differs from what was written", id)
			}
			return nil
		})
		if len(reported) > before {
			readErrs++
			if readErrs > 3 { // enough examples; keep the report short
				reported = reported[:before]
			}
		}
	}
	guard("list cases", func() error {
		seen := 0
		q := CaseQuery{Limit: MaxListLimit}
		list, err := s.ListCases(context.Background(), q, worker)
		if err != nil {
			return err
		}
		for _, sum := range list {
			b, ok := want[sum.ID]
			if !ok {
				t.Errorf("list returned case %s, which was never written", sum.ID)
				continue
			}
			c, err := v1.UnmarshalCase(b)
			if err != nil {
				return err
			}
			if w := summaryOf(c); sprint(w) != sprint(sum) {
				t.Errorf("summary of case %s listed without error but differs: got %v, want %v", sum.ID, sum, w)
			}
			seen++
		}
		if seen != len(want) {
			// An iterator that hit a bad block ends early without an error:
			// a short list is damage reported only by its length.
			return fmt.Errorf("listed %d of %d cases (an iterator ended early)", seen, len(want))
		}
		return nil
	})
	guard("verify audit", func() error {
		_, err := s.VerifyAudit(nil)
		return err
	})
	guard("verify tables", func() error {
		err := s.VerifyTables()
		if err == nil {
			t.Errorf("VerifyTables found no damage in a store with a flipped byte in a table file")
		} else if !errors.Is(err, ErrDamaged) {
			t.Errorf("VerifyTables: %v, want an error wrapping ErrDamaged", err)
		}
		return err
	})
	return reported
}
