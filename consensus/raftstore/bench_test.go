package raftstore

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
	raftbench "github.com/hashicorp/raft/bench"
)

// benchStore is what both backends offer.
type benchStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// benchBackends are compared op by op. Both are on disk (b.TempDir, which is
// on a real disk, not tmpfs, on the machine the figures in DESIGN.md come
// from) and both fsync every write: Badger because SyncWrites is on, BoltDB
// because NoSync is off by default. Badger runs the production configuration,
// encryption included; BoltDB has no encryption.
var benchBackends = []struct {
	name string
	open func(b *testing.B) benchStore
}{
	{"badger", func(b *testing.B) benchStore {
		cfg := DefaultConfig()
		cfg.Dir = b.TempDir()
		cfg.EncryptionKey = testKey()
		cfg.Logger = discardLogger()
		s, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"boltdb", func(b *testing.B) benchStore {
		s, err := raftboltdb.NewBoltStore(filepath.Join(b.TempDir(), "raft.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

// BenchmarkStore runs hashicorp/raft's log-store benchmark suite
// (github.com/hashicorp/raft/bench) against this store and raft-boltdb v1,
// as BenchmarkStore/<op>/<backend>.
func BenchmarkStore(b *testing.B) {
	ops := []struct {
		name string
		run  func(*testing.B, benchStore)
	}{
		{"FirstIndex", func(b *testing.B, s benchStore) { raftbench.FirstIndex(b, s) }},
		{"LastIndex", func(b *testing.B, s benchStore) { raftbench.LastIndex(b, s) }},
		{"GetLog", func(b *testing.B, s benchStore) { raftbench.GetLog(b, s) }},
		{"StoreLog", func(b *testing.B, s benchStore) { raftbench.StoreLog(b, s) }},
		{"StoreLogs", func(b *testing.B, s benchStore) { raftbench.StoreLogs(b, s) }},
		{"DeleteRange", func(b *testing.B, s benchStore) { raftbench.DeleteRange(b, s) }},
		{"Set", func(b *testing.B, s benchStore) { raftbench.Set(b, s) }},
		{"Get", func(b *testing.B, s benchStore) { raftbench.Get(b, s) }},
		{"SetUint64", func(b *testing.B, s benchStore) { raftbench.SetUint64(b, s) }},
		{"GetUint64", func(b *testing.B, s benchStore) { raftbench.GetUint64(b, s) }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			for _, backend := range benchBackends {
				b.Run(backend.name, func(b *testing.B) {
					s := backend.open(b)
					b.ReportAllocs()
					b.ResetTimer() // opening the store is not the operation
					op.run(b, s)
					if s, ok := s.(*Store); ok {
						// Count the tombstones DeleteRange deferred to the
						// sweeper (sweep.go) in the time of the operation.
						if err := s.sweepAll(); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}
