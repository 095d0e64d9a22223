// Package auditlog is the node's tamper-evident audit trail: an append-only
// Merkle log (golang.org/x/mod/sumdb/tlog) kept inside the node's Badger
// database, whose checkpoints (tree size and root hash) the node signs with its
// authority key. Entries are opaque bytes to this package (storage writes the
// canonical encoding of a schemas/v1 AuditEntry).
//
// The log is stateless with respect to transactions: every method works inside
// a Badger transaction that the caller opens and commits, so an audit entry is
// written in the same transaction as the change it records.
//
// See DESIGN.md for the key layout, the checkpoint and witness formats and the
// threat model.
package auditlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxEntrySize is the largest entry Append accepts, in bytes.
const MaxEntrySize = 64 << 10

// Sentinel errors; match with errors.Is.
var (
	// ErrTampered: a stored entry or hash does not match the tree.
	ErrTampered = errors.New("audit log tampered")
	// ErrRolledBack: the log is smaller than, or inconsistent with, a checkpoint
	// witnessed earlier.
	ErrRolledBack = errors.New("audit log rolled back")
	// ErrBadSignature: a checkpoint's signature does not verify.
	ErrBadSignature = errors.New("audit checkpoint signature invalid")
	// ErrOutOfRange: an index or tree size is beyond the log.
	ErrOutOfRange = errors.New("audit index out of range")
	// ErrEntrySize: an entry is empty or longer than MaxEntrySize.
	ErrEntrySize = errors.New("audit entry size invalid")
)

// Checkpoint is a commitment to the first Size entries of a log.
type Checkpoint struct {
	Origin string // e.g. "nrmnet/audit/ISL": names the log
	Size   int64
	Root   tlog.Hash
}

// Key layout under the log's prefix P (all integers 8-byte big-endian, so that
// Badger's byte order is index order):
//
//	P 'e' <index>             entry bytes
//	P 'h' <stored-hash index> 32-byte tlog stored hash
//	P 's'                     number of entries
const (
	tagEntry = 'e'
	tagHash  = 'h'
	tagSize  = 's'
)

// Log is one audit log under a key prefix in a Badger database.
type Log struct {
	origin      string
	entryPrefix []byte // P 'e'
	hashPrefix  []byte // P 'h'
	sizeKey     []byte // P 's'
}

// New returns the log named origin whose keys live under prefix. No other
// keys may live under prefix, and prefix must not be a prefix of another
// log's prefix.
func New(origin string, prefix []byte) *Log {
	tagged := func(tag byte) []byte {
		k := make([]byte, len(prefix)+1)
		copy(k, prefix)
		k[len(prefix)] = tag
		return k
	}
	return &Log{
		origin:      origin,
		entryPrefix: tagged(tagEntry),
		hashPrefix:  tagged(tagHash),
		sizeKey:     tagged(tagSize),
	}
}

// Origin returns the name of the log, as used in its checkpoints.
func (l *Log) Origin() string { return l.origin }

func indexKey(prefix []byte, i int64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], uint64(i))
	return k
}

// parseIndexKey returns the index in key, which starts with prefix, or false
// if the key is not prefix followed by exactly 8 bytes.
func parseIndexKey(prefix, key []byte) (int64, bool) {
	if len(key) != len(prefix)+8 || !bytes.HasPrefix(key, prefix) {
		return 0, false
	}
	u := binary.BigEndian.Uint64(key[len(prefix):])
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func (l *Log) entryKey(i int64) []byte { return indexKey(l.entryPrefix, i) }
func (l *Log) hashKey(i int64) []byte  { return indexKey(l.hashPrefix, i) }

// Append adds entry at the next index inside txn and returns that index. The
// caller serialises appends (one writer at a time) and commits txn.
// Entries are 1 to MaxEntrySize bytes; others are refused with ErrEntrySize.
func (l *Log) Append(txn *badger.Txn, entry []byte) (int64, error) {
	if len(entry) == 0 || len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("auditlog: append: %w: %d bytes, want 1 to %d", ErrEntrySize, len(entry), MaxEntrySize)
	}
	n, err := l.Size(txn)
	if err != nil {
		return 0, fmt.Errorf("auditlog: append: %w", err)
	}
	hashes, err := tlog.StoredHashes(n, entry, l.hashReader(txn))
	if err != nil {
		return 0, fmt.Errorf("auditlog: append entry %d: %w", n, err)
	}
	// Badger keeps a reference to the value until commit: copy the caller's bytes.
	if err := txn.Set(l.entryKey(n), bytes.Clone(entry)); err != nil {
		return 0, fmt.Errorf("auditlog: append entry %d: %w", n, err)
	}
	base := tlog.StoredHashIndex(0, n)
	for k, h := range hashes {
		if err := txn.Set(l.hashKey(base+int64(k)), h[:]); err != nil {
			return 0, fmt.Errorf("auditlog: append entry %d: store hash: %w", n, err)
		}
	}
	size := make([]byte, 8)
	binary.BigEndian.PutUint64(size, uint64(n+1))
	if err := txn.Set(bytes.Clone(l.sizeKey), size); err != nil {
		return 0, fmt.Errorf("auditlog: append entry %d: store size: %w", n, err)
	}
	return n, nil
}

// Size returns the number of entries as seen by txn.
func (l *Log) Size(txn *badger.Txn) (int64, error) {
	item, err := txn.Get(l.sizeKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auditlog: read size: %w", err)
	}
	var n int64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: size key holds %d bytes, want 8", ErrTampered, len(v))
		}
		u := binary.BigEndian.Uint64(v)
		if u > math.MaxInt64 {
			return fmt.Errorf("%w: size %d out of range", ErrTampered, u)
		}
		n = int64(u)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("auditlog: read size: %w", err)
	}
	return n, nil
}

// Entry returns the entry at index. It checks the entry against its stored
// leaf hash, so an entry edited without its hashes is ErrTampered; proving it
// against a signed checkpoint (ProveInclusion, CheckInclusion) is the full check.
func (l *Log) Entry(txn *badger.Txn, index int64) ([]byte, error) {
	size, err := l.Size(txn)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= size {
		return nil, fmt.Errorf("auditlog: entry %d: %w: log has %d entries", index, ErrOutOfRange, size)
	}
	item, err := txn.Get(l.entryKey(index))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("auditlog: %w: entry %d: missing", ErrTampered, index)
	}
	if err != nil {
		return nil, fmt.Errorf("auditlog: read entry %d: %w", index, err)
	}
	entry, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("auditlog: read entry %d: %w", index, err)
	}
	leaf, err := l.hashReader(txn).ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
	if err != nil {
		return nil, fmt.Errorf("auditlog: read entry %d: %w", index, err)
	}
	if tlog.RecordHash(entry) != leaf[0] {
		return nil, fmt.Errorf("auditlog: %w: entry %d: does not match its stored leaf hash", ErrTampered, index)
	}
	return entry, nil
}

// Checkpoint returns the checkpoint of the whole log as seen by txn.
func (l *Log) Checkpoint(txn *badger.Txn) (Checkpoint, error) {
	size, err := l.Size(txn)
	if err != nil {
		return Checkpoint{}, err
	}
	return l.checkpointAt(txn, size)
}

// checkpointAt returns the checkpoint of the first size entries, computed from
// the stored hashes; size must not exceed the log's size.
func (l *Log) checkpointAt(txn *badger.Txn, size int64) (Checkpoint, error) {
	root, err := tlog.TreeHash(size, l.hashReader(txn))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: tree hash at size %d: %w", size, err)
	}
	return Checkpoint{Origin: l.origin, Size: size, Root: root}, nil
}

// ProveInclusion proves entry index is in the tree of the given size.
func (l *Log) ProveInclusion(txn *badger.Txn, index, size int64) (tlog.RecordProof, error) {
	n, err := l.Size(txn)
	if err != nil {
		return nil, err
	}
	if size < 1 || size > n || index < 0 || index >= size {
		return nil, fmt.Errorf("auditlog: prove inclusion of entry %d in tree of size %d: %w: log has %d entries", index, size, ErrOutOfRange, n)
	}
	p, err := tlog.ProveRecord(size, index, l.hashReader(txn))
	if err != nil {
		return nil, fmt.Errorf("auditlog: prove inclusion of entry %d in tree of size %d: %w", index, size, err)
	}
	return p, nil
}

// ProveConsistency proves the tree of oldSize is a prefix of the tree of newSize.
// The proof is empty when oldSize is 0 or equal to newSize.
func (l *Log) ProveConsistency(txn *badger.Txn, oldSize, newSize int64) (tlog.TreeProof, error) {
	n, err := l.Size(txn)
	if err != nil {
		return nil, err
	}
	if oldSize < 0 || oldSize > newSize || newSize > n {
		return nil, fmt.Errorf("auditlog: prove consistency of sizes %d and %d: %w: log has %d entries", oldSize, newSize, ErrOutOfRange, n)
	}
	if oldSize == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, l.hashReader(txn))
	if err != nil {
		return nil, fmt.Errorf("auditlog: prove consistency of sizes %d and %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// hashReader reads stored hashes from txn. A missing or malformed hash is
// ErrTampered: the stored hashes cover every index below StoredHashCount(size).
func (l *Log) hashReader(txn *badger.Txn) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		hashes := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			item, err := txn.Get(l.hashKey(x))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil, fmt.Errorf("%w: entry %d: stored hash %d missing", ErrTampered, recordOfHash(x), x)
			}
			if err != nil {
				return nil, fmt.Errorf("read stored hash %d: %w", x, err)
			}
			err = item.Value(func(v []byte) error {
				if len(v) != tlog.HashSize {
					return fmt.Errorf("%w: entry %d: stored hash %d holds %d bytes", ErrTampered, recordOfHash(x), x, len(v))
				}
				copy(hashes[i][:], v)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return hashes, nil
	})
}

// recordOfHash returns the index of the entry whose Append stored the hash at
// stored-hash index x.
func recordOfHash(x int64) int64 {
	level, n := tlog.SplitStoredHashIndex(x)
	return (n+1)<<level - 1
}

// emptyRoot is the root hash of the empty tree (RFC 6962: SHA-256 of "").
var emptyRoot, _ = tlog.TreeHash(0, nil)

// CheckInclusion verifies an inclusion proof of entry at index against cp.
func CheckInclusion(p tlog.RecordProof, cp Checkpoint, index int64, entry []byte) error {
	if index < 0 || index >= cp.Size {
		return fmt.Errorf("auditlog: check inclusion of entry %d: %w: checkpoint size %d", index, ErrOutOfRange, cp.Size)
	}
	if err := tlog.CheckRecord(p, cp.Size, cp.Root, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("auditlog: %w: entry %d: not included in the checkpoint of size %d: %v", ErrTampered, index, cp.Size, err)
	}
	return nil
}

// CheckConsistency verifies that old is a prefix of new. A new checkpoint
// smaller than old is ErrRolledBack; a proof that does not verify is
// ErrTampered. Checkpoints of different origins are never consistent.
func CheckConsistency(p tlog.TreeProof, old, new Checkpoint) error {
	if old.Origin != new.Origin {
		return fmt.Errorf("auditlog: check consistency: checkpoints of different logs %q and %q", old.Origin, new.Origin)
	}
	if old.Size < 0 || new.Size < 0 {
		return fmt.Errorf("auditlog: check consistency of sizes %d and %d: %w", old.Size, new.Size, ErrOutOfRange)
	}
	if new.Size < old.Size {
		return fmt.Errorf("auditlog: %w: checkpoint of %d entries follows one of %d", ErrRolledBack, new.Size, old.Size)
	}
	if old.Size == 0 {
		if old.Root != emptyRoot || len(p) != 0 {
			return fmt.Errorf("auditlog: %w: entry 0: checkpoint of size 0 must have the empty root and an empty proof", ErrTampered)
		}
		return nil
	}
	if err := tlog.CheckTree(p, new.Size, new.Root, old.Size, old.Root); err != nil {
		// The first entry that may differ is the last one old commits to.
		return fmt.Errorf("auditlog: %w: entry %d: tree of size %d is not a prefix of tree of size %d: %v", ErrTampered, old.Size-1, old.Size, new.Size, err)
	}
	return nil
}
