package storage

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Config is the configuration of a Store. Start from DefaultConfig; Open
// calls Validate first.
type Config struct {
	// DataDir is the Badger directory holding cases, indexes, the audit log
	// and the outbox ("<node>/data").
	DataDir string
	// KeysDir holds storage.key, authority.key, childkeys/ and audit.witness
	// ("<node>/keys"). It must not be inside DataDir, nor DataDir inside it.
	KeysDir string
	// Authority is the code of the authority that runs this node.
	Authority v1.AuthorityCode
	// Logger receives the store's logs (never case content); nil discards them.
	Logger *slog.Logger

	// InMemory keeps both databases in memory (for fast unit tests). The key
	// files are still required; there is no witness file.
	InMemory bool

	// SyncInterval is how often the writer syncs unsynced commits (read and
	// list audit entries when SyncReads is off) and records a signed audit
	// checkpoint in the witness file, at most.
	SyncInterval time.Duration
	// SyncReads makes the audit entries of reads and lists durable before
	// the data is returned, like every other write. Off, they are committed
	// before the data is returned and synced within SyncInterval; DESIGN.md
	// explains what a power cut can then do to the audit log.
	SyncReads bool
	// MaxBatch is the most write requests committed in one transaction.
	MaxBatch int

	// GCInterval is how often value-log garbage collection runs.
	GCInterval time.Duration
	// GCDiscardRatio is the share of a value-log file that must be garbage
	// before the file is rewritten (Badger's discardRatio), 0 < r < 1.
	GCDiscardRatio float64

	// Memory knobs for the data database (the child-keys database is small
	// and fixed). See DESIGN.md for measurements.
	MemTableSize   int64 // bytes per memtable; at least 8 MiB
	NumMemtables   int   // memtables held in memory, the active one included
	BlockCacheSize int64 // bytes of decrypted table blocks cached; > 0
	IndexCacheSize int64 // bytes of table indexes and Bloom filters cached; > 0
}

// DefaultConfig returns a Config with every field but the directories and
// the authority set to its default.
func DefaultConfig() Config {
	return Config{
		SyncInterval:   time.Second,
		SyncReads:      true,
		MaxBatch:       256,
		GCInterval:     10 * time.Minute,
		GCDiscardRatio: 0.5,
		MemTableSize:   16 << 20,
		NumMemtables:   2,
		BlockCacheSize: 32 << 20,
		IndexCacheSize: 16 << 20,
	}
}

// minMemTableSize keeps Badger's largest transaction (15% of a memtable)
// above the largest case value (1 MiB).
const minMemTableSize = 8 << 20

// Validate reports every missing or out-of-range field.
func (c Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.DataDir == "" && !c.InMemory {
		bad("DataDir is required")
	}
	if c.KeysDir == "" {
		bad("KeysDir is required")
	}
	if c.DataDir != "" && c.KeysDir != "" && nested(c.DataDir, c.KeysDir) {
		bad("KeysDir %s and DataDir %s must be separate directories, neither inside the other", c.KeysDir, c.DataDir)
	}
	if c.Authority == "" {
		bad("Authority is required")
	} else if !authority.Known(c.Authority) {
		bad("Authority %q is not the code of a listed authority", string(c.Authority))
	}
	if c.SyncInterval < 10*time.Millisecond || c.SyncInterval > time.Minute {
		bad("SyncInterval %v is out of range (10ms to 1m)", c.SyncInterval)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		bad("MaxBatch %d is out of range (1 to 10000)", c.MaxBatch)
	}
	if c.GCInterval < time.Second {
		bad("GCInterval %v is shorter than 1s", c.GCInterval)
	}
	if c.GCDiscardRatio <= 0 || c.GCDiscardRatio >= 1 {
		bad("GCDiscardRatio %v must be between 0 and 1", c.GCDiscardRatio)
	}
	if c.MemTableSize < minMemTableSize || c.MemTableSize > 1<<30 {
		bad("MemTableSize %d is out of range (8 MiB to 1 GiB)", c.MemTableSize)
	}
	if c.NumMemtables < 1 || c.NumMemtables > 16 {
		bad("NumMemtables %d is out of range (1 to 16)", c.NumMemtables)
	}
	if c.BlockCacheSize <= 0 {
		bad("BlockCacheSize must be positive (Badger requires a block cache with encryption)")
	}
	if c.IndexCacheSize <= 0 {
		bad("IndexCacheSize must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return nil
}

// nested reports whether a and b are the same directory or one is inside the other.
func nested(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return false
	}
	inside := func(x, y string) bool {
		rel, err := filepath.Rel(y, x)
		return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."))
	}
	return inside(aa, bb) || inside(bb, aa)
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dataOptions returns the Badger options of the data database. Values stay
// in the LSM tree (ValueThreshold 1 MiB, Badger's maximum): see DESIGN.md,
// "Group commit and durability", for why that matters to DB.Sync.
func (c Config) dataOptions(key []byte, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(c.DataDir).
		WithLogger(badgerLogger{log.With("db", "data")}).
		WithEncryptionKey(key).
		WithEncryptionKeyRotationDuration(30 * 24 * time.Hour).
		WithBlockCacheSize(c.BlockCacheSize).
		WithIndexCacheSize(c.IndexCacheSize).
		WithMemTableSize(c.MemTableSize).
		WithNumMemtables(c.NumMemtables).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(4 << 20).
		WithNumCompactors(2).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(maxValueThreshold).
		WithSyncWrites(false).
		WithDetectConflicts(false). // one goroutine writes
		WithNumGoroutines(2).
		WithCompression(options.Snappy).
		WithChecksumVerificationMode(checksumMode).
		WithMetricsEnabled(false)
	if c.InMemory {
		o = o.WithDir("").WithValueDir("").WithInMemory(true)
	}
	return o
}

// childKeyOptions returns the Badger options of the small child-keys
// database. Every write there is synced.
func (c Config) childKeyOptions(key []byte, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(childKeysPath(c.KeysDir)).
		WithLogger(badgerLogger{log.With("db", "childkeys")}).
		WithEncryptionKey(key).
		WithEncryptionKeyRotationDuration(30 * 24 * time.Hour).
		WithBlockCacheSize(2 << 20).
		WithIndexCacheSize(1 << 20).
		WithMemTableSize(4 << 20).
		WithNumMemtables(1).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(1 << 20).
		WithNumCompactors(2).
		WithValueLogFileSize(16 << 20).
		WithValueThreshold(4 << 10). // keys and ledger entries are ~100 bytes: all in the LSM tree
		WithSyncWrites(true).
		WithDetectConflicts(false). // only the writer goroutine writes
		WithNumGoroutines(1).
		WithChecksumVerificationMode(checksumMode).
		WithMetricsEnabled(false)
	if c.InMemory {
		o = o.WithDir("").WithValueDir("").WithInMemory(true)
	}
	return o
}

// checksumMode is when Badger checks the checksums of table blocks. Badger's
// encryption (AES-CTR) has no integrity, and by default it checks nothing
// after writing: a damaged block would decrypt to wrong bytes. See DESIGN.md,
// "Badger caveats", for the choice and its measured cost.
const checksumMode = options.OnBlockRead

// maxValueThreshold is Badger's largest ValueThreshold: values shorter than
// this are kept in the LSM tree (and its write-ahead log), not the value log.
const maxValueThreshold = 1 << 20
