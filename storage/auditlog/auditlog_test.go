package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "nrmnet/audit/TEST"

var testPrefix = []byte("audit/")

// testKey returns a fixed authority key, so that signed seeds in testdata stay valid.
func testKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// otherKey returns a second fixed key, for wrong-key tests.
func otherKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// memOptions are small in-memory Badger options: tests open many databases.
func memOptions() badger.Options {
	return badger.DefaultOptions("").WithInMemory(true).WithLogger(nil).
		WithMemTableSize(16 << 20).WithCompression(options.None).WithBlockCacheSize(0)
}

func diskOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(16 << 20).WithBlockCacheSize(1 << 20)
}

func mustOpenDB(t testing.TB, opts badger.Options) *badger.DB {
	t.Helper()
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatalf("open badger: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newMemDB(t testing.TB) *badger.DB { return mustOpenDB(t, memOptions()) }

func mustUpdate(t testing.TB, db *badger.DB, fn func(txn *badger.Txn) error) {
	t.Helper()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t testing.TB, db *badger.DB, fn func(txn *badger.Txn) error) {
	t.Helper()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// testEntry is entry i of a test log: distinct, of varying length.
func testEntry(i int64) []byte {
	return []byte(fmt.Sprintf("entry %06d payload %s", i, strings.Repeat("x", int(i%97))))
}

// appendEntries appends testEntry(i) for i in [from, to), batch entries per
// transaction.
func appendEntries(t testing.TB, db *badger.DB, l *Log, from, to int64, batch int) {
	t.Helper()
	for i := from; i < to; {
		mustUpdate(t, db, func(txn *badger.Txn) error {
			for k := 0; k < batch && i < to; k++ {
				got, err := l.Append(txn, testEntry(i))
				if err != nil {
					return err
				}
				if got != i {
					return fmt.Errorf("Append returned index %d, want %d", got, i)
				}
				i++
			}
			return nil
		})
	}
}

// newTestLog returns an in-memory log of n test entries.
func newTestLog(t testing.TB, n int64) (*badger.DB, *Log) {
	t.Helper()
	db := newMemDB(t)
	l := New(testOrigin, testPrefix)
	appendEntries(t, db, l, 0, n, 64)
	return db, l
}

// wantErr fails unless err matches target and, if index >= 0, names entry index.
func wantErr(t testing.TB, err, target error, index int64) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
	if index >= 0 && !strings.Contains(err.Error(), fmt.Sprintf("entry %d:", index)) {
		t.Fatalf("error %q does not name entry %d", err, index)
	}
}

// mth is the RFC 6962 Merkle tree hash, computed directly from the leaves:
// an independent reference for the roots tlog computes from stored hashes.
func mth(leaves [][]byte) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestAppendAndReadBack(t *testing.T) {
	db := newMemDB(t)
	l := New(testOrigin, testPrefix)
	mustView(t, db, func(txn *badger.Txn) error {
		cp, err := l.Checkpoint(txn)
		if err != nil {
			return err
		}
		if cp.Size != 0 || cp.Root != mth(nil) || cp.Origin != testOrigin {
			t.Errorf("empty log checkpoint %+v", cp)
		}
		return nil
	})
	const n = 300
	appendEntries(t, db, l, 0, n, 7)
	var leaves [][]byte
	mustView(t, db, func(txn *badger.Txn) error {
		size, err := l.Size(txn)
		if err != nil || size != n {
			t.Fatalf("Size = %d, %v; want %d", size, err, n)
		}
		for i := int64(0); i < n; i++ {
			e, err := l.Entry(txn, i)
			if err != nil {
				t.Fatalf("Entry(%d): %v", i, err)
			}
			if !bytes.Equal(e, testEntry(i)) {
				t.Fatalf("Entry(%d) = %q, want %q", i, e, testEntry(i))
			}
			leaves = append(leaves, e)
		}
		for _, i := range []int64{-1, n, n + 1} {
			if _, err := l.Entry(txn, i); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("Entry(%d) error %v, want ErrOutOfRange", i, err)
			}
		}
		cp, err := l.Checkpoint(txn)
		if err != nil {
			return err
		}
		if cp.Size != n || cp.Root != mth(leaves) {
			t.Errorf("Checkpoint = %d %s, want %d %s", cp.Size, cp.Root, n, mth(leaves))
		}
		vcp, err := l.Verify(txn, nil)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if vcp != cp {
			t.Errorf("Verify = %+v, Checkpoint = %+v", vcp, cp)
		}
		return nil
	})
}

func TestAppendRejects(t *testing.T) {
	db := newMemDB(t)
	l := New(testOrigin, testPrefix)
	mustUpdate(t, db, func(txn *badger.Txn) error {
		for _, size := range []int{0, MaxEntrySize + 1} {
			if _, err := l.Append(txn, make([]byte, size)); !errors.Is(err, ErrEntrySize) {
				t.Errorf("Append(%d bytes) error %v, want ErrEntrySize", size, err)
			}
		}
		if _, err := l.Append(txn, bytes.Repeat([]byte{1}, MaxEntrySize)); err != nil {
			t.Errorf("Append(MaxEntrySize bytes): %v", err)
		}
		return nil
	})
	err := db.View(func(txn *badger.Txn) error {
		_, err := l.Append(txn, []byte("x"))
		return err
	})
	if !errors.Is(err, badger.ErrReadOnlyTxn) {
		t.Errorf("Append in a read-only txn: %v, want ErrReadOnlyTxn", err)
	}
}

// TestAppendStateless checks that the log holds no state outside the
// transaction: a discarded append leaves no trace, and the caller's buffer
// may be reused before commit.
func TestAppendStateless(t *testing.T) {
	db, l := newTestLog(t, 10)
	txn := db.NewTransaction(true)
	if _, err := l.Append(txn, []byte("discarded")); err != nil {
		t.Fatal(err)
	}
	txn.Discard()
	buf := []byte("kept")
	mustUpdate(t, db, func(txn *badger.Txn) error {
		i, err := l.Append(txn, buf)
		if i != 10 || err != nil {
			t.Fatalf("Append = %d, %v; want 10", i, err)
		}
		copy(buf, "XXXX")
		return nil
	})
	mustView(t, db, func(txn *badger.Txn) error {
		e, err := l.Entry(txn, 10)
		if err != nil || string(e) != "kept" {
			t.Fatalf("Entry(10) = %q, %v; want kept", e, err)
		}
		_, err = l.Verify(txn, nil)
		return err
	})
}

// TestTwoLogsOnePrefixApart checks that logs under sibling prefixes do not
// see each other's keys.
func TestTwoLogsOnePrefixApart(t *testing.T) {
	db := newMemDB(t)
	a, b := New("nrmnet/audit/A", []byte("audit/a/")), New("nrmnet/audit/B", []byte("audit/b/"))
	appendEntries(t, db, a, 0, 20, 5)
	appendEntries(t, db, b, 0, 3, 5)
	mustView(t, db, func(txn *badger.Txn) error {
		for _, c := range []struct {
			l    *Log
			want int64
		}{{a, 20}, {b, 3}} {
			cp, err := c.l.Verify(txn, nil)
			if err != nil || cp.Size != c.want {
				t.Errorf("%s: Verify = %d, %v; want %d", c.l.Origin(), cp.Size, err, c.want)
			}
		}
		return nil
	})
}

func TestVerifyProgress(t *testing.T) {
	db, l := newTestLog(t, 2*verifyProgressEvery+5)
	var calls [][2]int64
	mustView(t, db, func(txn *badger.Txn) error {
		_, err := l.Verify(txn, func(done, total int64) { calls = append(calls, [2]int64{done, total}) })
		return err
	})
	n := int64(2*verifyProgressEvery + 5)
	want := [][2]int64{{verifyProgressEvery, n}, {2 * verifyProgressEvery, n}, {n, n}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

// TestVerifyLarge verifies a log of 100,000 entries, logging the heap in use
// while it runs: Verify keeps O(log n) hashes, so the heap stays flat.
func TestVerifyLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 entries")
	}
	const n = 100_000
	db := mustOpenDB(t, memOptions().WithMemTableSize(64<<20))
	l := New(testOrigin, testPrefix)
	appendEntries(t, db, l, 0, n, 1000)
	runtime.GC()
	before := heapInUse()
	var peak uint64
	mustView(t, db, func(txn *badger.Txn) error {
		cp, err := l.Verify(txn, func(done, total int64) {
			if h := heapInUse(); h > peak {
				peak = h
			}
		})
		if err != nil {
			return err
		}
		if cp.Size != n {
			t.Errorf("Verify size %d, want %d", cp.Size, n)
		}
		return nil
	})
	t.Logf("heap in use before Verify of %d entries (the in-memory database): %d MiB; peak during: %d MiB", n, before>>20, peak>>20)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
