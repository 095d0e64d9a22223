package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// KeySize is the length in bytes of the encryption keys the store accepts
// (AES-256).
const KeySize = 32

// Config configures a Store: one Badger database holding one panel's Raft log
// and stable state.
type Config struct {
	// Dir is the panel's own directory; it is created (0700) if missing. No
	// two stores may share a directory. Ignored when InMemory is set.
	Dir string

	// EncryptionKey is the 32-byte key Badger encrypts the store with at rest
	// (AES-256-CTR, confidentiality only; see DESIGN.md). Required unless
	// Plaintext is set. Keep the key file outside Dir. Reopening with another
	// key fails with ErrEncryptionKeyMismatch.
	EncryptionKey []byte

	// Plaintext turns encryption at rest off. For tests and measurements only:
	// a panel's log holds the details of children's cases.
	Plaintext bool

	// SyncWrites makes every StoreLogs, DeleteRange and Set durable (fsync)
	// before it returns. Raft's safety depends on it, so Validate rejects
	// false for an on-disk store; it is ignored when InMemory is set.
	SyncWrites bool

	// InMemory keeps everything in memory and writes no files. For unit tests.
	InMemory bool

	// MemTableSize is Badger's memtable size in bytes. It also bounds one
	// transaction (15% of it); larger StoreLogs batches are split, see
	// DESIGN.md. At least 1 MiB.
	MemTableSize int64

	// BlockCacheSize and IndexCacheSize size Badger's caches in bytes. Badger
	// requires a block cache when encryption or compression is on.
	BlockCacheSize int64
	IndexCacheSize int64

	// ValueLogGCInterval is how often the store asks Badger to rewrite value
	// log files that are mostly deleted entries. Only entries larger than
	// 1 MiB live in the value log; smaller ones are reclaimed by compaction.
	// Zero disables the collector.
	ValueLogGCInterval time.Duration

	// Logger receives the store's and Badger's messages. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the production settings: encryption on (the caller
// must still supply EncryptionKey), synced writes, caches sized for a panel's
// modest log.
func DefaultConfig() Config {
	return Config{
		SyncWrites:         true,
		MemTableSize:       16 << 20,
		BlockCacheSize:     8 << 20,
		IndexCacheSize:     4 << 20,
		ValueLogGCInterval: 10 * time.Minute,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if !c.InMemory && c.Dir == "" {
		errs = append(errs, errors.New("dir is required unless in_memory is set"))
	}
	if c.InMemory && c.Dir != "" {
		errs = append(errs, errors.New("dir must be empty when in_memory is set"))
	}
	switch {
	case c.Plaintext && len(c.EncryptionKey) > 0:
		errs = append(errs, errors.New("encryption_key and plaintext are both set"))
	case !c.Plaintext && len(c.EncryptionKey) == 0:
		errs = append(errs, errors.New("encryption_key is required: encryption at rest is on unless plaintext is set"))
	case !c.Plaintext && len(c.EncryptionKey) != KeySize:
		errs = append(errs, fmt.Errorf("encryption_key is %d bytes, want %d", len(c.EncryptionKey), KeySize))
	}
	if !c.InMemory && !c.SyncWrites {
		errs = append(errs, errors.New("sync_writes must be true on disk: raft relies on StoreLogs and Set being durable when they return"))
	}
	if c.MemTableSize < 1<<20 {
		errs = append(errs, fmt.Errorf("mem_table_size %d is below 1 MiB", c.MemTableSize))
	}
	if c.BlockCacheSize <= 0 {
		errs = append(errs, errors.New("block_cache_size must be positive (Badger needs it with encryption and compression)"))
	}
	if c.IndexCacheSize < 0 {
		errs = append(errs, errors.New("index_cache_size must not be negative"))
	}
	if c.ValueLogGCInterval < 0 {
		errs = append(errs, errors.New("value_log_gc_interval must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}
