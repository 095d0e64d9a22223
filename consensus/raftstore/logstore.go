package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// FirstIndex returns the first index in the log, 0 if it is empty. It reads
// the cache, which every write keeps exact.
func (s *Store) FirstIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.closeMu.RUnlock()
	return s.bounds.Load().first, nil
}

// LastIndex returns the last index in the log, 0 if it is empty.
func (s *Store) LastIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.closeMu.RUnlock()
	return s.bounds.Load().last, nil
}

// GetLog reads the entry at index into l. It returns raft.ErrLogNotFound,
// unwrapped as raft expects, when there is none.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	if index < s.floor.Load() {
		return raft.ErrLogNotFound // compacted; its tombstone may be pending
	}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logKey(index))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return decodeLog(v, l) })
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return raft.ErrLogNotFound
	case err != nil:
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	case l.Index != index:
		return fmt.Errorf("raftstore: get log %d: %w: entry says index %d", index, ErrCorruptLog, l.Index)
	}
	return nil
}

// StoreLog stores one entry durably.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// logEntry is one encoded log entry ready for a transaction.
type logEntry struct {
	index    uint64
	key, val []byte
}

// StoreLogs stores a batch durably and atomically: after a crash or an error
// either the whole batch is in the log or none of the entries it added are.
// A batch that fits one Badger transaction is one synced commit; a larger one
// is split and guarded by a pending marker, see DESIGN.md.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	// Encode outside the locks, into one buffer sized for the whole batch.
	size := 0
	for _, l := range logs {
		size += logKeyLen + encodedLogSize(l)
	}
	buf := make([]byte, 0, size)
	entries := make([]logEntry, len(logs))
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for i, l := range logs {
		start := len(buf)
		buf = append(buf, prefixLog)
		buf = binary.BigEndian.AppendUint64(buf, l.Index)
		keyEnd := len(buf)
		var err error
		if buf, err = appendLog(buf, l); err != nil {
			return err
		}
		entries[i] = logEntry{index: l.Index, key: buf[start:keyEnd:keyEnd], val: buf[keyEnd:len(buf):len(buf)]}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}

	if err := s.acquire(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	if lo < s.floor.Load() {
		// Writing below the compaction watermark (raft never does): make
		// the watermark's promise true on disk first, then drop it, so that
		// no compacted entry can resurface around the new ones.
		if err := s.lowerFloor(); err != nil {
			return fmt.Errorf("raftstore: store logs %d-%d below the compacted prefix: %w", lo, hi, err)
		}
	}
	if s.maxChunkEntries > 0 && len(entries) > s.maxChunkEntries {
		return s.storeSplit(entries, lo, hi)
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, e := range entries {
		err := txn.Set(e.key, e.val)
		if errors.Is(err, badger.ErrTxnTooBig) {
			txn.Discard()
			return s.storeSplit(entries, lo, hi)
		}
		if err != nil {
			return fmt.Errorf("raftstore: store logs: %w", err)
		}
	}
	if err := txn.Commit(); err != nil {
		return s.afterFailedWrite(fmt.Errorf("raftstore: store logs %d-%d: %w", lo, hi, err))
	}
	s.noteStored(lo, hi)
	return nil
}

// noteStored widens the cached bounds after a commit of [lo, hi].
func (s *Store) noteStored(lo, hi uint64) {
	b := s.bounds.Load()
	if b.empty {
		s.bounds.Store(&bounds{first: lo, last: hi})
		return
	}
	s.bounds.Store(&bounds{first: min(b.first, lo), last: max(b.last, hi)})
}

// afterFailedWrite re-reads the bounds from disk after a write whose outcome
// is unknown (a failed commit may or may not have reached the disk).
func (s *Store) afterFailedWrite(err error) error {
	if rerr := s.reloadBounds(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// errSimulatedCrash is returned by the afterChunk test hook to abandon a split
// batch mid-way, leaving the pending marker for Open to find.
var errSimulatedCrash = errors.New("raftstore: simulated crash")

// pendingBatch is the marker a split StoreLogs writes with its first chunk and
// deletes with its last. If it survives (crash, or a failed rollback), Open
// deletes the entries in [lo, hi] that lie outside the bounds the log had
// before the batch, so the batch leaves no trace. Entries inside those bounds
// are never rolled back: raft only overwrites an index after deleting it, so a
// batch never lands inside the existing log.
type pendingBatch struct {
	lo, hi    uint64
	prevFirst uint64
	prevLast  uint64
	prevEmpty bool
}

const pendingBatchLen = 1 + 8*4 + 1

func (p pendingBatch) encode() []byte {
	b := make([]byte, 0, pendingBatchLen)
	b = append(b, 1) // version
	b = binary.BigEndian.AppendUint64(b, p.lo)
	b = binary.BigEndian.AppendUint64(b, p.hi)
	b = binary.BigEndian.AppendUint64(b, p.prevFirst)
	b = binary.BigEndian.AppendUint64(b, p.prevLast)
	if p.prevEmpty {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return b
}

func decodePendingBatch(b []byte) (pendingBatch, error) {
	if len(b) != pendingBatchLen || b[0] != 1 || b[pendingBatchLen-1] > 1 {
		return pendingBatch{}, fmt.Errorf("%w: malformed pending-batch marker %x", ErrCorruptLog, b)
	}
	return pendingBatch{
		lo:        binary.BigEndian.Uint64(b[1:]),
		hi:        binary.BigEndian.Uint64(b[9:]),
		prevFirst: binary.BigEndian.Uint64(b[17:]),
		prevLast:  binary.BigEndian.Uint64(b[25:]),
		prevEmpty: b[33] == 1,
	}, nil
}

// added reports whether the batch created index (rather than overwrote it).
func (p pendingBatch) added(index uint64) bool {
	return p.prevEmpty || index < p.prevFirst || index > p.prevLast
}

// storeSplit stores a batch too large for one transaction as a sequence of
// synced transactions guarded by a pending marker. Called with writeMu held.
func (s *Store) storeSplit(entries []logEntry, lo, hi uint64) error {
	b := s.bounds.Load()
	p := pendingBatch{lo: lo, hi: hi, prevFirst: b.first, prevLast: b.last, prevEmpty: b.empty}
	s.logger.Info("storing log batch in several transactions", "first", lo, "last", hi, "entries", len(entries))

	fail := func(err error) error {
		if errors.Is(err, errSimulatedCrash) {
			return err
		}
		err = fmt.Errorf("raftstore: store logs %d-%d: %w", lo, hi, err)
		if rerr := s.rollback(p); rerr != nil {
			s.logger.Error("rollback of a failed log batch failed; Open will retry it", "error", rerr)
			err = errors.Join(err, rerr)
		}
		return s.afterFailedWrite(err)
	}

	next, chunk := 0, 0
	markerDeleted := false
	for !markerDeleted {
		txn := s.db.NewTransaction(true)
		if chunk == 0 {
			if err := txn.Set(metaPending, p.encode()); err != nil {
				txn.Discard()
				return fail(err)
			}
		}
		n := 0
		for next < len(entries) && (s.maxChunkEntries == 0 || n < s.maxChunkEntries) {
			e := entries[next]
			err := txn.Set(e.key, e.val)
			if errors.Is(err, badger.ErrTxnTooBig) {
				break
			}
			if err != nil {
				txn.Discard()
				return fail(err)
			}
			next++
			n++
		}
		if n == 0 && next < len(entries) {
			txn.Discard()
			return fail(fmt.Errorf("entry %d does not fit in a transaction", entries[next].index))
		}
		if next == len(entries) {
			err := txn.Delete(metaPending)
			switch {
			case err == nil:
				markerDeleted = true
			case !errors.Is(err, badger.ErrTxnTooBig):
				txn.Discard()
				return fail(err)
			}
			// Too big: commit this chunk; the next transaction only deletes
			// the marker.
		}
		if err := txn.Commit(); err != nil {
			return fail(err)
		}
		if s.afterChunk != nil && !markerDeleted {
			if err := s.afterChunk(chunk); err != nil {
				return fail(err)
			}
		}
		chunk++
	}
	s.noteStored(lo, hi)
	return nil
}

// recoverPending rolls back a split batch that did not finish.
func (s *Store) recoverPending() error {
	var raw []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaPending)
		if err != nil {
			return err
		}
		raw, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftstore: read pending marker: %w", err)
	}
	p, err := decodePendingBatch(raw)
	if err != nil {
		return err
	}
	s.logger.Warn("rolling back a log batch interrupted by a crash", "first", p.lo, "last", p.hi)
	return s.rollback(p)
}

// rollback deletes the entries batch p added, newest first so that an
// interrupted rollback still leaves a contiguous log, then the marker.
func (s *Store) rollback(p pendingBatch) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix, Reverse: true})
		defer it.Close()
		for it.Seek(logKey(p.hi)); it.Valid(); it.Next() {
			index, err := parseLogKey(it.Item().Key())
			if err != nil {
				return err
			}
			if index < p.lo {
				break
			}
			if p.added(index) {
				keys = append(keys, logKey(index))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raftstore: rollback: list batch: %w", err)
	}
	keys = append(keys, metaPending)
	if err := s.deleteKeys(keys); err != nil {
		return fmt.Errorf("raftstore: rollback: %w", err)
	}
	return nil
}

// deleteKeys deletes keys in order, in as few synced transactions as Badger
// allows. A failure part-way leaves a prefix of keys deleted.
func (s *Store) deleteKeys(keys [][]byte) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, k := range keys {
		err := txn.Delete(k)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			err = txn.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

// DeleteRange deletes the entries in [min, max], inclusive, durably.
//
// Deleting the head of the log (raft's compaction after a snapshot, however
// long the range) is one small synced write: it raises the compaction
// watermark, and the sweeper writes the tombstones in the background.
// Anything else (raft truncating a conflicting tail) deletes the keys there
// and then, from the top down, so that an interrupted multi-transaction delete
// still leaves a contiguous log.
func (s *Store) DeleteRange(minIndex, maxIndex uint64) error {
	if minIndex > maxIndex {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	b := s.bounds.Load()
	if b.empty {
		return nil
	}
	lo, hi := max(minIndex, b.first), min(maxIndex, b.last)
	if lo > hi {
		return nil
	}
	if lo == b.first && hi < math.MaxUint64 {
		return s.compactTo(hi+1, b)
	}

	var keys [][]byte
	if hi-lo < denseDeleteSpan {
		keys = make([][]byte, 0, hi-lo+1)
		for i := lo; ; i++ {
			keys = append(keys, logKey(i))
			if i == hi {
				break
			}
		}
	} else if err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix})
		defer it.Close()
		for it.Seek(logKey(lo)); it.Valid(); it.Next() {
			index, err := parseLogKey(it.Item().Key())
			if err != nil {
				return err
			}
			if index > hi {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("raftstore: delete range %d-%d: list: %w", lo, hi, err)
	}

	if hi == b.last {
		// Truncating the tail: newest first.
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	if err := s.deleteKeys(keys); err != nil {
		return s.afterFailedWrite(fmt.Errorf("raftstore: delete range %d-%d: %w", lo, hi, err))
	}

	switch {
	case lo == b.first && hi == b.last:
		s.bounds.Store(emptyBounds) // only reached for hi == MaxUint64
	case hi == b.last:
		last, ok, err := s.seek(lo-1, true)
		if err != nil || !ok {
			return s.afterFailedWrite(fmt.Errorf("raftstore: delete range %d-%d: find new last index: %v", lo, hi, err))
		}
		s.bounds.Store(&bounds{first: b.first, last: last})
	}
	return nil
}

// seek returns the first log index >= from (or, with reverse, the last index
// <= from), and whether there is one.
func (s *Store) seek(from uint64, reverse bool) (index uint64, ok bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix, Reverse: reverse})
		defer it.Close()
		it.Seek(logKey(from))
		if !it.Valid() {
			return nil
		}
		index, err = parseLogKey(it.Item().Key())
		ok = err == nil
		return err
	})
	return index, ok, err
}

// reloadBounds reads first and last index from the keys on disk at or above
// the floor.
func (s *Store) reloadBounds() error {
	// Seeking from the floor skips the compacted prefix and its tombstones.
	first, ok, err := s.seek(s.floor.Load(), false)
	if err != nil {
		return fmt.Errorf("raftstore: load first index: %w", err)
	}
	if !ok {
		s.bounds.Store(emptyBounds)
		return nil
	}
	last, _, err := s.seek(math.MaxUint64, true)
	if err != nil {
		return fmt.Errorf("raftstore: load last index: %w", err)
	}
	s.bounds.Store(&bounds{first: first, last: last})
	return nil
}
