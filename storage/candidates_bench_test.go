package storage

import (
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BenchmarkCandidateIndexOpen is what the match-candidate index adds to
// Open over benchCases cases, against reading the same cases one by one
// without auditing (readCase), in the same loop: open, an Open of a store
// whose index is complete (the key-only check); build, an Open of the same
// store with its index removed, as a store written before the index existed
// (each case decrypted once to build it). It reports the medians, in ms
// per Open and per read of every case, and the ratios to the read.
func BenchmarkCandidateIndexOpen(b *testing.B) {
	r := newBenchRig(b, benchCases, nil)
	cfg := r.store.cfg
	if err := r.store.Close(); err != nil {
		b.Fatal(err)
	}
	var open, build, read opTimes
	for b.Loop() {
		var s *Store
		if err := open.time(func() (err error) { s, err = Open(cfg); return err }); err != nil {
			b.Fatal(err)
		}
		if err := read.time(func() error {
			for _, c := range r.cases {
				if _, err := s.readCase(c.ID); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		err := s.db.Update(func(txn *badger.Txn) error {
			var keys [][]byte
			if err := scanKeys(txn, prefixCandidate, nil, func(k []byte) (bool, error) { keys = append(keys, k); return true, nil }); err != nil {
				return err
			}
			for _, k := range append(keys, keyCandidateVersion) {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := build.time(func() (err error) { s, err = Open(cfg); return err }); err != nil {
			b.Fatal(err)
		}
		if n, _ := s.CandidateIndexSize(); n != len(r.cases) {
			b.Fatalf("built %d entries for %d cases", n, len(r.cases))
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	med := func(o opTimes) float64 {
		s := slices.Clone(o)
		slices.Sort(s)
		return float64(s[len(s)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(med(open), "open-ms")
	b.ReportMetric(med(build), "open-build-ms")
	b.ReportMetric(med(read), "read-all-ms")
	b.ReportMetric(med(open)/med(read), "x-open-read")
	b.ReportMetric(med(build)/med(read), "x-build-read")
	b.ReportMetric(0, "ns/op")
}
