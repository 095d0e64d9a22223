package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Errors returned by the package. Match them with errors.Is.
var (
	// ErrKeyNotFound is returned by Get and GetUint64 for a key that was never
	// set. Its text is exactly "not found" because hashicorp/raft compares the
	// string, not the value.
	ErrKeyNotFound = errors.New("not found")

	// ErrClosed is returned by every method of a closed Store.
	ErrClosed = errors.New("raftstore: store is closed")

	// ErrInvalidConfig wraps the problems Config.Validate finds.
	ErrInvalidConfig = errors.New("raftstore: invalid config")

	// ErrEncryptionKeyMismatch is returned by Open when the key is not the one
	// the store was created with (or the store was created unencrypted, or
	// the other way round).
	ErrEncryptionKeyMismatch = errors.New("raftstore: encryption key does not match the one the store was created with")

	// ErrUnsupportedFormat is returned by Open for a directory that holds a
	// Badger database this package did not write, or wrote in a newer format.
	ErrUnsupportedFormat = errors.New("raftstore: unsupported store format")

	// ErrCorruptLog is returned when a stored log entry does not decode.
	ErrCorruptLog = errors.New("raftstore: corrupt log entry")

	// ErrCorruptSnapshot is returned when snapshot data fails authentication:
	// it was corrupted, truncated, reordered or written under another key.
	ErrCorruptSnapshot = errors.New("raftstore: snapshot data corrupt, truncated or under another key")
)

// Key layout. Every key starts with a one-byte namespace so that one ordered
// keyspace holds three tables.
const (
	prefixLog    byte = 'l' // 'l' + uint64 big-endian index -> encoded raft.Log
	prefixStable byte = 's' // 's' + raft's key               -> raft's value
	prefixMeta   byte = 'm' // 'm' + name                     -> store metadata
	logKeyLen         = 1 + 8
)

var (
	metaFormat  = []byte("mformat")  // one byte: storeFormatV1
	metaPending = []byte("mpending") // a split StoreLogs in progress, see pendingBatch
	metaFloor   = []byte("mfloor")   // uint64 big-endian: log keys below it are deleted
	logPrefix   = []byte{prefixLog}
)

// storeFormatV1 identifies this key layout and encoding.
const storeFormatV1 byte = 1

// denseDeleteSpan is the widest range DeleteRange deletes key by key without
// first listing which keys exist. Raft's logs are dense, so for the ranges it
// deletes this is exact and saves an iterator; wider ranges are listed.
const denseDeleteSpan = 1 << 14

func logKey(index uint64) []byte {
	k := make([]byte, logKeyLen)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

func parseLogKey(k []byte) (uint64, error) {
	if len(k) != logKeyLen || k[0] != prefixLog {
		return 0, fmt.Errorf("%w: malformed log key %x", ErrCorruptLog, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func stableKey(k []byte) []byte {
	return append([]byte{prefixStable}, k...)
}

// bounds is the cached [first, last] of the log. It is replaced, never
// mutated, so a reader sees a consistent pair.
type bounds struct {
	first, last uint64
	empty       bool
}

var emptyBounds = &bounds{empty: true}

// Store is a raft.LogStore and raft.StableStore on one Badger database. It is
// safe for concurrent use; writers are serialised, readers never wait for a
// write's fsync.
//
// Store deliberately does not implement raft.MonotonicLogStore: it tolerates
// gaps in the log (FirstIndex and LastIndex come from the keys actually
// present), which is the path raft-boltdb users exercise. See DESIGN.md.
type Store struct {
	db     *badger.DB
	logger *slog.Logger

	// closeMu: every method holds it for reading, Close for writing.
	closeMu sync.RWMutex
	closed  bool

	// writeMu serialises the log writers (StoreLogs, DeleteRange) so that the
	// cached bounds follow the order of commits.
	writeMu sync.Mutex
	bounds  atomic.Pointer[bounds]

	// stable caches the whole stable store (raft keeps three keys in it):
	// loaded at Open, updated after each durable Set. setMu keeps the cache
	// in the order of the commits.
	setMu    sync.Mutex
	stableMu sync.RWMutex
	stable   map[string][]byte

	// floor is the compaction watermark: every log key below it is deleted,
	// whether or not its tombstone has been written yet. DeleteRange of the
	// head of the log only raises it (one small synced write); the sweeper
	// writes the tombstones later, off raft's path. See sweep.go.
	floor   atomic.Uint64
	sweepMu sync.Mutex    // held by whoever writes tombstones below floor
	sweptTo atomic.Uint64 // written under sweepMu: every key below it and below floor is deleted
	sweepCh chan struct{}

	stop chan struct{} // closed by Close
	wg   sync.WaitGroup

	// Test hooks, nil/zero in production. maxChunkEntries forces StoreLogs to
	// split batches larger than it; afterChunk runs after each committed chunk
	// of a split batch (returning errSimulatedCrash abandons the batch as a
	// crash would, with no rollback).
	maxChunkEntries int
	afterChunk      func(chunk int) error
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens (creating if needed) the store described by cfg. It validates
// cfg first, rolls back a split StoreLogs that a crash interrupted, and loads
// the log's first and last index.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "raftstore")
	if !cfg.InMemory {
		logger = logger.With("dir", cfg.Dir)
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("raftstore: create dir: %w", err)
		}
	}

	db, err := badger.Open(badgerOptions(cfg, logger))
	switch {
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return nil, fmt.Errorf("%w (dir %s)", ErrEncryptionKeyMismatch, cfg.Dir)
	case err != nil:
		return nil, fmt.Errorf("raftstore: open badger: %w", err)
	}

	s := &Store{db: db, logger: logger, sweepCh: make(chan struct{}, 1), stop: make(chan struct{})}
	s.bounds.Store(emptyBounds)
	if err := s.init(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s.wg.Add(1)
	go s.runSweeper()
	if s.floor.Load() > 0 {
		// Tombstones may be missing below the floor from before a restart.
		s.requestSweep()
	}
	if cfg.ValueLogGCInterval > 0 && !cfg.InMemory {
		s.wg.Add(1)
		go s.runValueLogGC(cfg.ValueLogGCInterval)
	}
	return s, nil
}

func badgerOptions(cfg Config, logger *slog.Logger) badger.Options {
	opts := badger.DefaultOptions(cfg.Dir)
	if cfg.InMemory {
		opts = badger.DefaultOptions("").WithInMemory(true)
	}
	// Values up to the threshold live in the LSM tree, so deleted entries are
	// reclaimed by compaction; only larger ones go to the value log. Badger
	// refuses a threshold above its transaction limit (15% of the memtable).
	threshold := min(int64(1<<20), cfg.MemTableSize*15/100)
	var key []byte
	if !cfg.Plaintext {
		key = append([]byte(nil), cfg.EncryptionKey...)
	}
	return opts.
		WithSyncWrites(cfg.SyncWrites && !cfg.InMemory).
		WithEncryptionKey(key).
		WithBlockCacheSize(cfg.BlockCacheSize).
		WithIndexCacheSize(cfg.IndexCacheSize).
		WithMemTableSize(cfg.MemTableSize).
		WithValueThreshold(threshold).
		WithNumMemtables(3).
		WithNumCompactors(2).
		WithValueLogFileSize(64 << 20).
		// One writer at a time (writeMu) and no read-modify-write
		// transactions: conflict detection would only cost time.
		WithDetectConflicts(false).
		WithLogger(badgerLogger{logger})
}

// init checks the format marker, finishes crash recovery and loads bounds.
func (s *Store) init() error {
	var format []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaFormat)
		if errors.Is(err, badger.ErrKeyNotFound) {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			it.Rewind()
			if it.Valid() {
				return fmt.Errorf("%w: database has keys but no format marker", ErrUnsupportedFormat)
			}
			return nil
		}
		if err != nil {
			return err
		}
		format, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("raftstore: read format: %w", err)
	}
	switch {
	case format == nil:
		if err := s.db.Update(func(txn *badger.Txn) error {
			return txn.Set(metaFormat, []byte{storeFormatV1})
		}); err != nil {
			return fmt.Errorf("raftstore: write format: %w", err)
		}
	case len(format) != 1 || format[0] != storeFormatV1:
		return fmt.Errorf("%w: format marker %x", ErrUnsupportedFormat, format)
	}

	if err := s.recoverPending(); err != nil {
		return err
	}
	if err := s.loadStable(); err != nil {
		return err
	}
	if err := s.loadFloor(); err != nil {
		return err
	}
	return s.reloadBounds()
}

// Close stops the background work (the sweeper finishes the chunk it is
// writing; the rest waits for the next Open) and closes the database. It is
// idempotent; every later call of any other method returns ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftstore: close: %w", err)
	}
	return nil
}

// acquire takes the close lock for reading; release with s.closeMu.RUnlock.
func (s *Store) acquire() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// runValueLogGC periodically rewrites value-log files that are mostly garbage.
func (s *Store) runValueLogGC(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for {
			err := s.db.RunValueLogGC(0.5)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.logger.Warn("value log GC failed", "error", err)
				}
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}
