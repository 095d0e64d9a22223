// Package raftstore keeps a combined panel's Raft state on the authority's own
// disk: a raft.LogStore and raft.StableStore on Badger (Store), and a
// raft.SnapshotStore whose snapshots are encrypted at rest (SnapshotStore).
//
// Each panel gets its own Badger database in its own directory, encrypted at
// rest and written with fsync before every StoreLogs, DeleteRange and Set
// returns, because raft acknowledges entries and votes on the strength of
// those calls. Log entries are keyed by their big-endian index, so the log is
// one ordered range; they are encoded with a small versioned binary format
// whose decoder rejects anything it did not produce. The first and last index
// are cached and kept exact across DeleteRange and restarts.
//
// A StoreLogs batch is atomic even when it is too large for one Badger
// transaction: the batch is split and guarded by a pending marker, and a batch
// interrupted by an error or a crash is rolled back.
//
// Snapshots are raft's FileSnapshotStore with the contents (state.bin) sealed
// in 64 KiB AES-256-GCM chunks under a per-snapshot key derived with HKDF;
// Open authenticates the whole snapshot before the FSM reads a byte.
//
// DESIGN.md gives the reasons and the measurements.
//
// Typical use, one panel:
//
//	panelDir := filepath.Join(dataDir, "panels", panelID)
//	cfg := raftstore.DefaultConfig()
//	cfg.Dir = filepath.Join(panelDir, "log")
//	cfg.EncryptionKey = key // 32 bytes, kept outside dataDir
//	cfg.Logger = logger
//	store, err := raftstore.Open(cfg)
//	...
//	snaps, err := raftstore.NewSnapshotStore(panelDir, 3, key, logger) // panelDir/snapshots
//	...
//	conf.Logger = raftstore.HCLogger(logger)
//	r, err := raft.NewRaft(conf, fsm, store, store, snaps, transport)
package raftstore
