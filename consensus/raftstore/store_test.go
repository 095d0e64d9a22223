package raftstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// storeKinds runs a contract test against the in-memory and the on-disk,
// encrypted, synced store.
var storeKinds = []struct {
	name string
	cfg  func(testing.TB) Config
}{
	{"memory", memConfig},
	{"disk", diskConfig},
}

func forEachKind(t *testing.T, test func(t *testing.T, s *Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { test(t, mustOpen(t, k.cfg(t))) })
	}
}

// The contract tests below are raft-boltdb's (bolt_store_test.go), ported.

func TestStore_Implements(t *testing.T) {
	var s any = &Store{}
	if _, ok := s.(raft.StableStore); !ok {
		t.Fatal("Store does not implement raft.StableStore")
	}
	if _, ok := s.(raft.LogStore); !ok {
		t.Fatal("Store does not implement raft.LogStore")
	}
	if _, ok := s.(raft.MonotonicLogStore); ok {
		t.Fatal("Store implements raft.MonotonicLogStore; DESIGN.md says why it must not")
	}
}

func TestStore_FirstIndex(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		mustBounds(t, s, 0, 0)
		mustStoreLogs(t, s, testRaftLog(1, "log1"), testRaftLog(2, "log2"), testRaftLog(3, "log3"))
		if idx, err := s.FirstIndex(); err != nil || idx != 1 {
			t.Fatalf("FirstIndex = %d, %v; want 1", idx, err)
		}
	})
}

func TestStore_LastIndex(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		mustBounds(t, s, 0, 0)
		mustStoreLogs(t, s, testRaftLog(1, "log1"), testRaftLog(2, "log2"), testRaftLog(3, "log3"))
		if idx, err := s.LastIndex(); err != nil || idx != 3 {
			t.Fatalf("LastIndex = %d, %v; want 3", idx, err)
		}
	})
}

func TestStore_GetLog(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		log := new(raft.Log)
		if err := s.GetLog(1, log); err != raft.ErrLogNotFound { //nolint:errorlint // raft compares with ==
			t.Fatalf("GetLog on empty store: err = %v, want raft.ErrLogNotFound (unwrapped)", err)
		}
		logs := []*raft.Log{testRaftLog(1, "log1"), testRaftLog(2, "log2"), testRaftLog(3, "log3")}
		mustStoreLogs(t, s, logs...)
		if err := s.GetLog(2, log); err != nil {
			t.Fatalf("GetLog: %v", err)
		}
		if !reflect.DeepEqual(log, logs[1]) {
			t.Fatalf("GetLog = %#v, want %#v", log, logs[1])
		}
		if err := s.GetLog(4, log); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog past the end: err = %v, want raft.ErrLogNotFound", err)
		}
	})
}

func TestStore_SetLog(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		log := &raft.Log{Data: []byte("log1"), Index: 1}
		if err := s.StoreLog(log); err != nil {
			t.Fatalf("StoreLog: %v", err)
		}
		result := new(raft.Log)
		if err := s.GetLog(1, result); err != nil {
			t.Fatalf("GetLog: %v", err)
		}
		if !reflect.DeepEqual(log, result) {
			t.Fatalf("GetLog = %v, want %v", result, log)
		}
	})
}

func TestStore_SetLogs(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		logs := []*raft.Log{testRaftLog(1, "log1"), testRaftLog(2, "log2")}
		mustStoreLogs(t, s, logs...)
		for i, want := range logs {
			got := new(raft.Log)
			if err := s.GetLog(uint64(i+1), got); err != nil {
				t.Fatalf("GetLog(%d): %v", i+1, err)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("GetLog(%d) = %#v, want %#v", i+1, got, want)
			}
		}
	})
}

func TestStore_DeleteRange(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		mustStoreLogs(t, s, testRaftLog(1, "log1"), testRaftLog(2, "log2"), testRaftLog(3, "log3"))
		if err := s.DeleteRange(1, 2); err != nil {
			t.Fatalf("DeleteRange: %v", err)
		}
		for _, i := range []uint64{1, 2} {
			if err := s.GetLog(i, new(raft.Log)); err != raft.ErrLogNotFound { //nolint:errorlint
				t.Fatalf("log %d: err = %v, want deleted", i, err)
			}
		}
		mustBounds(t, s, 3, 3)
	})
}

func TestStore_Set_Get(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		_, err := s.Get([]byte("bad"))
		if !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
			t.Fatalf("Get of a missing key: err = %q, want exactly \"not found\"", err)
		}
		k, v := []byte("hello"), []byte("world")
		if err := s.Set(k, v); err != nil {
			t.Fatalf("Set: %v", err)
		}
		val, err := s.Get(k)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !bytes.Equal(val, v) {
			t.Fatalf("Get = %q, want %q", val, v)
		}
	})
}

func TestStore_SetUint64_GetUint64(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		val, err := s.GetUint64([]byte("bad"))
		if val != 0 || err == nil || err.Error() != "not found" {
			t.Fatalf("GetUint64 of a missing key = %d, %q; want 0, \"not found\"", val, err)
		}
		k, v := []byte("abc"), uint64(123)
		if err := s.SetUint64(k, v); err != nil {
			t.Fatalf("SetUint64: %v", err)
		}
		if val, err := s.GetUint64(k); err != nil || val != v {
			t.Fatalf("GetUint64 = %d, %v; want %d", val, err, v)
		}
		// A value that is not 8 bytes is an error, not a silent misread.
		if err := s.Set([]byte("short"), []byte{1, 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUint64([]byte("short")); err == nil {
			t.Fatal("GetUint64 of a 2-byte value succeeded")
		}
	})
}

// End of the raft-boltdb port.

func TestErrKeyNotFoundText(t *testing.T) {
	// hashicorp/raft api.go and raft.go compare err.Error() == "not found".
	if ErrKeyNotFound.Error() != "not found" {
		t.Fatalf("ErrKeyNotFound = %q", ErrKeyNotFound)
	}
}

func TestStore_GetReturnsACopy(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		if err := s.Set([]byte("k"), []byte("value")); err != nil {
			t.Fatal(err)
		}
		v, _ := s.Get([]byte("k"))
		v[0] = 'X'
		if v2, _ := s.Get([]byte("k")); string(v2) != "value" {
			t.Fatalf("stored value changed through a returned slice: %q", v2)
		}
	})
}

func TestStore_FullLogRoundTrip(t *testing.T) {
	forEachKind(t, func(t *testing.T, s *Store) {
		in := &raft.Log{Index: 7, Term: 3, Type: raft.LogConfiguration, Data: []byte("d"),
			Extensions: []byte("e"), AppendedAt: time.Now()}
		mustStoreLogs(t, s, in)
		var out raft.Log
		if err := s.GetLog(7, &out); err != nil {
			t.Fatal(err)
		}
		if out.Index != in.Index || out.Term != in.Term || out.Type != in.Type ||
			!bytes.Equal(out.Data, in.Data) || !bytes.Equal(out.Extensions, in.Extensions) ||
			!out.AppendedAt.Equal(in.AppendedAt) {
			t.Fatalf("GetLog = %+v, want %+v", out, in)
		}
	})
}

func TestStore_PersistsAcrossReopen(t *testing.T) {
	cfg := diskConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStoreLogs(t, s, logsRange(1, 100)...)
	if err := s.DeleteRange(1, 40); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(91, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, cfg)
	mustBounds(t, s, 41, 90)
	var l raft.Log
	if err := s.GetLog(41, &l); err != nil || !reflect.DeepEqual(&l, logsRange(41, 41)[0]) {
		t.Fatalf("GetLog(41) = %+v, %v", l, err)
	}
	if err := s.GetLog(40, &l); err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("GetLog(40): err = %v, want not found", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 42 {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-b" {
		t.Fatalf("LastVoteCand = %q, %v", v, err)
	}
}

// TestStore_BoundsMatchModel drives the store with random raft-like writes
// (appends, head compactions, tail truncations, gaps, reopens) and checks the
// cached bounds and every entry against a model after each step.
func TestStore_BoundsMatchModel(t *testing.T) {
	cfg := diskConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[uint64]bool{}
	next := uint64(1)

	check := func(step int) {
		t.Helper()
		var first, last uint64
		for i := range model {
			if first == 0 || i < first {
				first = i
			}
			last = max(last, i)
		}
		f, _ := s.FirstIndex()
		l, _ := s.LastIndex()
		if f != first || l != last {
			t.Fatalf("step %d: bounds [%d, %d], model [%d, %d]", step, f, l, first, last)
		}
		if last == 0 {
			return
		}
		probes := []uint64{first - 1, first, last, last + 1}
		for range 50 {
			probes = append(probes, first+rng.Uint64N(last-first+1))
		}
		for _, i := range probes {
			err := s.GetLog(i, new(raft.Log))
			if model[i] != (err == nil) {
				t.Fatalf("step %d: GetLog(%d) err = %v, model has it: %v", step, i, err, model[i])
			}
		}
	}

	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 5: // append a batch
			n := uint64(1 + rng.IntN(20))
			mustStoreLogs(t, s, logsRange(next, next+n-1)...)
			for i := next; i < next+n; i++ {
				model[i] = true
			}
			next += n
		case op < 7: // compact a prefix (sometimes everything)
			upTo := (next - 1) - min(next-1, uint64(rng.IntN(15)))
			if err := s.DeleteRange(0, upTo); err != nil {
				t.Fatal(err)
			}
			for i := range model {
				if i <= upTo {
					delete(model, i)
				}
			}
		case op < 8: // truncate a suffix, as raft does on a conflict
			from := next - min(next-1, uint64(rng.IntN(10))+1)
			if err := s.DeleteRange(from, next+5); err != nil {
				t.Fatal(err)
			}
			for i := range model {
				if i >= from {
					delete(model, i)
				}
			}
			next = max(from, 1)
		case op < 9: // leave a gap, as raft does after restoring a snapshot
			next += uint64(1 + rng.IntN(50))
		default:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(cfg); err != nil {
				t.Fatal(err)
			}
		}
		check(step)
	}
}

func TestStore_DeleteRangeWide(t *testing.T) {
	// Wider than denseDeleteSpan and with gaps: listed, not deleted blind.
	s := mustOpen(t, memConfig(t))
	mustStoreLogs(t, s, logsRange(1, 10)...)
	mustStoreLogs(t, s, logsRange(100_000, 100_010)...)
	if err := s.DeleteRange(5, 100_005); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, s, 1, 100_010)
	for _, i := range []uint64{4, 100_006} {
		if err := s.GetLog(i, new(raft.Log)); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
	}
	for _, i := range []uint64{5, 10, 100_000, 100_005} {
		if err := s.GetLog(i, new(raft.Log)); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog(%d): err = %v, want not found", i, err)
		}
	}
	if err := s.DeleteRange(0, 1<<62); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, s, 0, 0)
}

func TestStore_LogCache(t *testing.T) {
	// raft's TestLogCache (log_cache_test.go), with this store as the backend.
	store := mustOpen(t, memConfig(t))
	c, err := raft.NewLogCache(16, store)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 {
		if err := store.StoreLog(&raft.Log{Index: uint64(i) + 1}); err != nil {
			t.Fatal(err)
		}
	}
	mustBounds(t, c, 1, 32)
	var out raft.Log
	if err := c.GetLog(1, &out); err != nil || out.Index != 1 {
		t.Fatalf("GetLog(1) = %+v, %v", out, err)
	}
	if err := c.StoreLogs([]*raft.Log{{Index: 33}, {Index: 34}}); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, c, 1, 34)
	for _, i := range []uint64{33, 34} {
		if err := store.GetLog(i, &out); err != nil {
			t.Fatalf("write-through of %d: %v", i, err)
		}
	}
	if err := store.DeleteRange(33, 34); err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{33, 34} {
		if err := c.GetLog(i, &out); err != nil {
			t.Fatalf("cached %d: %v", i, err)
		}
	}
	if err := c.DeleteRange(33, 34); err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{33, 34} {
		if err := c.GetLog(i, &out); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog(%d) after purge: err = %v", i, err)
		}
	}
}

func TestStore_SplitBatch(t *testing.T) {
	s := mustOpen(t, memConfig(t))
	s.maxChunkEntries = 3
	mustStoreLogs(t, s, logsRange(1, 5)...)
	mustStoreLogs(t, s, logsRange(6, 15)...)
	mustBounds(t, s, 1, 15)
	for i := uint64(1); i <= 15; i++ {
		if err := s.GetLog(i, new(raft.Log)); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
	}
	mustNoPendingMarker(t, s)
}

func TestStore_SplitBatchOnTxnTooBig(t *testing.T) {
	// A 1 MiB memtable allows transactions of about 150 KiB; 64 entries of
	// 8 KiB do not fit in one and must be split by Badger's ErrTxnTooBig.
	cfg := diskConfig(t)
	cfg.MemTableSize = 1 << 20
	s := mustOpen(t, cfg)
	var logs []*raft.Log
	for i := uint64(1); i <= 64; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 8<<10)})
	}
	txn := s.db.NewTransaction(true)
	var tooBig error
	for _, l := range logs {
		if tooBig = txn.Set(logKey(l.Index), l.Data); tooBig != nil {
			break
		}
	}
	txn.Discard()
	if !errors.Is(tooBig, badger.ErrTxnTooBig) {
		t.Fatalf("test batch fits one transaction (%v); make it bigger", tooBig)
	}

	mustStoreLogs(t, s, logs...)
	mustBounds(t, s, 1, 64)
	var l raft.Log
	for i := uint64(1); i <= 64; i++ {
		if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, logs[i-1].Data) {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
	}
	mustNoPendingMarker(t, s)
}

func TestStore_SplitBatchRollsBackOnError(t *testing.T) {
	s := mustOpen(t, memConfig(t))
	mustStoreLogs(t, s, logsRange(1, 10)...)
	s.maxChunkEntries = 4
	boom := errors.New("disk on fire")
	s.afterChunk = func(chunk int) error {
		if chunk == 1 {
			return boom
		}
		return nil
	}
	if err := s.StoreLogs(logsRange(11, 30)); !errors.Is(err, boom) {
		t.Fatalf("StoreLogs: err = %v, want the chunk error", err)
	}
	mustBounds(t, s, 1, 10)
	for i := uint64(11); i <= 30; i++ {
		if err := s.GetLog(i, new(raft.Log)); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog(%d) after rollback: err = %v", i, err)
		}
	}
	mustNoPendingMarker(t, s)
}

func TestStore_SplitBatchRolledBackAfterCrash(t *testing.T) {
	cfg := diskConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStoreLogs(t, s, logsRange(1, 10)...)
	s.maxChunkEntries = 4
	s.afterChunk = func(chunk int) error {
		if chunk == 2 {
			return errSimulatedCrash // two chunks on disk, then the process dies
		}
		return nil
	}
	if err := s.StoreLogs(logsRange(11, 30)); !errors.Is(err, errSimulatedCrash) {
		t.Fatalf("StoreLogs: err = %v", err)
	}
	// The batch's first chunks really are on disk before recovery.
	if err := s.GetLog(11, new(raft.Log)); err != nil {
		t.Fatalf("GetLog(11) before recovery: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, cfg)
	mustBounds(t, s, 1, 10)
	for i := uint64(11); i <= 30; i++ {
		if err := s.GetLog(i, new(raft.Log)); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("GetLog(%d) after recovery: err = %v", i, err)
		}
	}
	mustNoPendingMarker(t, s)
	// And the log carries on.
	mustStoreLogs(t, s, logsRange(11, 12)...)
	mustBounds(t, s, 1, 12)
}

func mustNoPendingMarker(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(metaPending)
		return err
	})
	if !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatalf("pending marker still present (err = %v)", err)
	}
}

func TestStore_CorruptEntry(t *testing.T) {
	s := mustOpen(t, memConfig(t))
	put := func(index uint64, val []byte) {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(logKey(index), val) }); err != nil {
			t.Fatal(err)
		}
	}
	put(1, []byte("garbage"))
	if err := s.GetLog(1, new(raft.Log)); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("GetLog of garbage: err = %v, want ErrCorruptLog", err)
	}
	// A valid entry under the wrong key.
	put(2, mustEncode(t, &raft.Log{Index: 3}))
	if err := s.GetLog(2, new(raft.Log)); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("GetLog of misplaced entry: err = %v, want ErrCorruptLog", err)
	}
}

func TestStore_Closed(t *testing.T) {
	s, err := Open(memConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checks := map[string]error{
		"StoreLog":    s.StoreLog(testRaftLog(1, "x")),
		"GetLog":      s.GetLog(1, new(raft.Log)),
		"DeleteRange": s.DeleteRange(1, 2),
		"Set":         s.Set([]byte("k"), nil),
	}
	_, checks["FirstIndex"] = s.FirstIndex()
	_, checks["LastIndex"] = s.LastIndex()
	_, checks["Get"] = s.Get([]byte("k"))
	_, checks["GetUint64"] = s.GetUint64([]byte("k"))
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

func TestStore_EncryptionKeyChecks(t *testing.T) {
	cfg := diskConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStoreLogs(t, s, logsRange(1, 3)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	wrong := cfg
	wrong.EncryptionKey = otherKey()
	if _, err := Open(wrong); !errors.Is(err, ErrEncryptionKeyMismatch) {
		t.Fatalf("Open with another key: err = %v, want ErrEncryptionKeyMismatch", err)
	}
	plain := cfg
	plain.EncryptionKey, plain.Plaintext = nil, true
	if _, err := Open(plain); !errors.Is(err, ErrEncryptionKeyMismatch) {
		t.Fatalf("Open without a key: err = %v, want ErrEncryptionKeyMismatch", err)
	}
	// The failed attempts left the store intact and unlocked.
	s = mustOpen(t, cfg)
	mustBounds(t, s, 1, 3)

	// And the other way round: a plaintext store opened with a key.
	pcfg := DefaultConfig()
	pcfg.Dir, pcfg.Plaintext, pcfg.Logger = t.TempDir(), true, discardLogger()
	p, err := Open(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	pcfg.Plaintext, pcfg.EncryptionKey = false, testKey()
	if _, err := Open(pcfg); !errors.Is(err, ErrEncryptionKeyMismatch) {
		t.Fatalf("Open of a plaintext store with a key: err = %v, want ErrEncryptionKeyMismatch", err)
	}
}

func TestStore_RefusesForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("case/1"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	cfg := DefaultConfig()
	cfg.Dir, cfg.Plaintext, cfg.Logger = dir, true, discardLogger()
	if _, err := Open(cfg); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("Open of a foreign database: err = %v, want ErrUnsupportedFormat", err)
	}
}

// TestStore_EncryptedAtRest writes a canary into log entries, stable values
// and a snapshot, closes everything, and scans every file under the panel's
// directory for it. The plaintext control proves the scan can see it.
func TestStore_EncryptedAtRest(t *testing.T) {
	const canary = "CANARY-child-name-Amelia-Okonkwo-2015-04-01"
	write := func(t *testing.T, dir string, plaintext bool) {
		cfg := DefaultConfig()
		cfg.Dir = filepath.Join(dir, "log")
		cfg.Logger = discardLogger()
		if plaintext {
			cfg.Plaintext = true
		} else {
			cfg.EncryptionKey = testKey()
		}
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var logs []*raft.Log
		for i := uint64(1); i <= 200; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: 1, Data: []byte(canary), Extensions: []byte(canary)})
		}
		mustStoreLogs(t, s, logs...)
		if err := s.Set([]byte(canary), []byte(canary)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if plaintext {
			return
		}
		snaps, err := NewSnapshotStore(dir, 2, testKey(), discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 1, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write([]byte(strings.Repeat(canary, 5000))); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
	}
	hits := func(t *testing.T, dir string) (files int, hits []string) {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			if bytes.Contains(b, []byte(canary)) {
				hits = append(hits, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files, hits
	}

	t.Run("encrypted", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, false)
		files, found := hits(t, dir)
		if len(found) > 0 {
			t.Fatalf("canary found in plaintext in %v", found)
		}
		t.Logf("scanned %d files, no canary", files)
	})
	t.Run("plaintext control", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, true)
		if _, found := hits(t, dir); len(found) == 0 {
			t.Fatal("canary not found in a plaintext store: the scan cannot see it")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dir, ok.EncryptionKey = "/tmp/x", testKey()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no dir", func(c *Config) { c.Dir = "" }, "dir is required"},
		{"dir and in-memory", func(c *Config) { c.InMemory = true }, "dir must be empty"},
		{"no key", func(c *Config) { c.EncryptionKey = nil }, "encryption_key is required"},
		{"short key", func(c *Config) { c.EncryptionKey = make([]byte, 16) }, "want 32"},
		{"key and plaintext", func(c *Config) { c.Plaintext = true }, "both set"},
		{"unsynced", func(c *Config) { c.SyncWrites = false }, "sync_writes"},
		{"tiny memtable", func(c *Config) { c.MemTableSize = 1000 }, "mem_table_size"},
		{"no block cache", func(c *Config) { c.BlockCacheSize = 0 }, "block_cache_size"},
		{"negative gc", func(c *Config) { c.ValueLogGCInterval = -1 }, "value_log_gc_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
			if _, err := Open(c); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Open accepted an invalid config: %v", err)
			}
		})
	}
	// In memory, unsynced is fine: there is no disk to sync.
	mem := DefaultConfig()
	mem.InMemory, mem.SyncWrites, mem.Plaintext = true, false, true
	if err := mem.Validate(); err != nil {
		t.Fatalf("in-memory unsynced: %v", err)
	}
}
