package panel

import (
	"errors"
	"fmt"
	"log/slog"

	v1 "nrmnet/schemas/v1"
)

// KeySize is the length in bytes of the encryption key the state accepts.
const KeySize = 32

// Config configures the state machine of one panel.
type Config struct {
	// Panel is the panel whose log this state machine applies; commands
	// naming another panel are rejected.
	Panel v1.PanelID

	// Dir is the directory of the panel's state (a Badger database of its
	// own, apart from the Raft log). Created 0700 if missing. Ignored when
	// InMemory is set.
	Dir string

	// InMemory keeps the state in memory and writes no files. For unit tests.
	InMemory bool

	// EncryptionKey is the 32-byte key Badger encrypts the state with at
	// rest: it holds the child's wishes and feelings and the panel's reasons.
	// Required unless Plaintext is set. Keep it outside Dir.
	EncryptionKey []byte

	// Plaintext turns encryption at rest off. For tests only.
	Plaintext bool

	// SyncWrites fsyncs every applied command before Apply returns. The Raft
	// log is the durable record, and the applied index is written in the same
	// transaction as the state, so a lost unsynced write is re-applied from the
	// log on restart; sync is still the default because the observer may
	// already have acted on the write.
	SyncWrites bool

	// MemTableSize, BlockCacheSize and IndexCacheSize size Badger, in bytes.
	MemTableSize   int64
	BlockCacheSize int64
	IndexCacheSize int64

	// Observer, if set, is called on Raft's FSM goroutine after a decision
	// is concluded and stored. It must not block for long: hand the decision
	// to durable work (the node's outbox) and return. It is not called for
	// decisions that arrive in a snapshot: after Restore, and on start, the
	// node reconciles with DecisionsSince.
	Observer func(ConcludedDecision)

	// ChangeObserver, if set, is called like Observer after an accepted
	// command requests the reconsideration of a concluded decision or
	// records its assurance. Like Observer it is not called for what a
	// snapshot brings: the node reconciles with Case.
	ChangeObserver func(DecisionChange)

	// Logger receives the state machine's messages (never case content).
	// Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the production settings; the caller still sets
// Panel, Dir and EncryptionKey.
func DefaultConfig() Config {
	return Config{
		SyncWrites:     true,
		MemTableSize:   8 << 20,
		BlockCacheSize: 8 << 20,
		IndexCacheSize: 4 << 20,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if !c.Panel.Valid() {
		errs = append(errs, fmt.Errorf("panel %q is not a panel ID", clip(string(c.Panel))))
	}
	if !c.InMemory && c.Dir == "" {
		errs = append(errs, errors.New("dir is required unless in_memory is set"))
	}
	if c.InMemory && c.Dir != "" {
		errs = append(errs, errors.New("dir must be empty when in_memory is set"))
	}
	switch {
	case c.Plaintext && len(c.EncryptionKey) > 0:
		errs = append(errs, errors.New("encryption_key and plaintext are both set"))
	case !c.Plaintext && len(c.EncryptionKey) != KeySize:
		errs = append(errs, fmt.Errorf("encryption_key is %d bytes, want %d (encryption at rest is on unless plaintext is set)", len(c.EncryptionKey), KeySize))
	}
	if c.MemTableSize < 1<<20 {
		errs = append(errs, fmt.Errorf("mem_table_size %d is below 1 MiB", c.MemTableSize))
	}
	if c.BlockCacheSize <= 0 {
		errs = append(errs, errors.New("block_cache_size must be positive"))
	}
	if c.IndexCacheSize < 0 {
		errs = append(errs, errors.New("index_cache_size must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}
