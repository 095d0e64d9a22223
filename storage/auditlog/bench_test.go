package auditlog

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// Benchmarks that touch the disk use b.TempDir: point TMPDIR at a real disk,
// never tmpfs, or the synced figures mean nothing.

// benchEntry is the size of a typical encoded audit entry.
var benchEntry = bytes.Repeat([]byte("a"), 256)

// BenchmarkAppend appends to an on-disk Badger with SyncWrites on; ns/op is
// per entry, with one entry per transaction or 64.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("sync/entries-per-txn=%d", batch), func(b *testing.B) {
			db, err := badger.Open(diskOptions(b.TempDir()).WithSyncWrites(true))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			l := New(testOrigin, testPrefix)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				err := db.Update(func(txn *badger.Txn) error {
					for k := 0; k < batch && i < b.N; k++ {
						if _, err := l.Append(txn, benchEntry); err != nil {
							return err
						}
						i++
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer() // before the deferred Close
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// benchLogSize is the tree size the proof benchmarks use.
const benchLogSize = 100_000

var (
	benchLogOnce sync.Once
	benchLogDB   *badger.DB
	benchLog     *Log
)

// sharedBenchLog returns an in-memory log of benchLogSize entries, built once
// per process and never closed.
func sharedBenchLog(b *testing.B) (*badger.DB, *Log) {
	benchLogOnce.Do(func() {
		db, err := badger.Open(memOptions().WithMemTableSize(64 << 20))
		if err != nil {
			b.Fatal(err)
		}
		l := New(testOrigin, testPrefix)
		for i := 0; i < benchLogSize; i += 1000 {
			err := db.Update(func(txn *badger.Txn) error {
				for k := 0; k < 1000; k++ {
					if _, err := l.Append(txn, testEntry(int64(i+k))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		benchLogDB, benchLog = db, l
	})
	if benchLog == nil {
		b.Fatal("building the shared benchmark log failed")
	}
	return benchLogDB, benchLog
}

// BenchmarkProveInclusion proves an entry in a tree of 100,000 entries, one
// read transaction per proof, and checks the proof.
func BenchmarkProveInclusion(b *testing.B) {
	db, l := sharedBenchLog(b)
	var cp Checkpoint
	mustView(b, db, func(txn *badger.Txn) (err error) { cp, err = l.Checkpoint(txn); return err })
	var hashes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		index := int64(i) * 7919 % benchLogSize
		err := db.View(func(txn *badger.Txn) error {
			p, err := l.ProveInclusion(txn, index, benchLogSize)
			if err != nil {
				return err
			}
			hashes += len(p)
			return CheckInclusion(p, cp, index, testEntry(index))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(hashes)/float64(b.N), "hashes/proof")
}

// BenchmarkProveConsistency proves a tree of random size a prefix of the tree
// of 100,000 entries, one read transaction per proof, and checks the proof.
func BenchmarkProveConsistency(b *testing.B) {
	db, l := sharedBenchLog(b)
	var cp Checkpoint
	mustView(b, db, func(txn *badger.Txn) (err error) { cp, err = l.Checkpoint(txn); return err })
	// Old checkpoints to prove against, computed outside the timer.
	olds := make([]Checkpoint, 64)
	mustView(b, db, func(txn *badger.Txn) error {
		for k := range olds {
			var err error
			if olds[k], err = l.checkpointAt(txn, 1+int64(k)*7919%(benchLogSize-1)); err != nil {
				return err
			}
		}
		return nil
	})
	var hashes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		old := olds[i%len(olds)]
		err := db.View(func(txn *badger.Txn) error {
			p, err := l.ProveConsistency(txn, old.Size, benchLogSize)
			if err != nil {
				return err
			}
			hashes += len(p)
			return CheckConsistency(p, old, cp)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(hashes)/float64(b.N), "hashes/proof")
}

// BenchmarkVerify verifies a log of b.N entries read back from an on-disk
// Badger (closed and reopened after building, so the entries are in tables,
// not the memtable); ns/op is per entry.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	opts := diskOptions(dir)
	db, err := badger.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	l := New(testOrigin, testPrefix)
	appendEntries(b, db, l, 0, int64(b.N), 1000)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	db, err = badger.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	b.ResetTimer()
	err = db.View(func(txn *badger.Txn) error {
		cp, err := l.Verify(txn, nil)
		if err == nil && cp.Size != int64(b.N) {
			err = fmt.Errorf("verified %d entries, want %d", cp.Size, b.N)
		}
		return err
	})
	b.StopTimer() // before the deferred Close
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkWitnessRecord signs and records a checkpoint, syncing the file.
func BenchmarkWitnessRecord(b *testing.B) {
	pub, priv := testKey()
	w, err := OpenWitness(filepath.Join(b.TempDir(), "audit.witness"), testOrigin, pub)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		signed, err := Sign(testCheckpoint(int64(i)), priv)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Record(signed); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}
