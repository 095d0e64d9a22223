package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Compaction by watermark.
//
// In an LSM tree a delete is a write: deleting 8,192 entries writes 8,192
// tombstones, each encrypted into the write-ahead log and inserted into the
// memtable, about 40 ms on the reference machine against 3 ms for BoltDB,
// which frees whole B+tree pages. Raft deletes the head of its log after
// every snapshot, holding up appends while it does. So a head delete only
// raises the floor (one 8-byte value, one synced write): GetLog below the
// floor reports raft.ErrLogNotFound and the bounds are computed from the
// floor up. The sweeper then writes the tombstones in chunks, concurrently
// with raft's appends (Badger groups their commits), and Open resumes it if a
// restart interrupted it.

const (
	// sweepChunkKeys is how many tombstones one sweeper transaction writes.
	sweepChunkKeys = 1024
	// sweepInterval is how often the sweeper clears a backlog too small to
	// have woken it.
	sweepInterval = 30 * time.Second
)

func (s *Store) loadFloor() error {
	var floor uint64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaFloor)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("%w: floor is %d bytes", ErrCorruptLog, len(v))
			}
			floor = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("raftstore: read floor: %w", err)
	}
	s.floor.Store(floor)
	return nil
}

// compactTo deletes every entry below newFloor by raising the floor. Called
// with writeMu held; b is the bounds before the call.
func (s *Store) compactTo(newFloor uint64, b *bounds) error {
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaFloor, binary.BigEndian.AppendUint64(nil, newFloor))
	}); err != nil {
		// If the write did reach the disk, the next Open honours it.
		return fmt.Errorf("raftstore: delete range %d-%d: %w", b.first, newFloor-1, err)
	}
	s.floor.Store(newFloor)
	if newFloor > b.last {
		s.bounds.Store(emptyBounds)
	} else {
		first, ok, err := s.seek(newFloor, false)
		if err != nil || !ok {
			return s.afterFailedWrite(fmt.Errorf("raftstore: delete range %d-%d: find new first index: %v",
				b.first, newFloor-1, err))
		}
		s.bounds.Store(&bounds{first: first, last: b.last})
	}
	if newFloor-min(newFloor, s.sweptTo.Load()) >= sweepChunkKeys {
		s.requestSweep()
	}
	return nil
}

// lowerFloor writes every outstanding tombstone below the floor and then
// drops the floor to zero, so that entries may be stored below it again.
// Called with writeMu held.
func (s *Store) lowerFloor() error {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	for {
		done, err := s.sweepChunkLocked()
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(metaFloor) }); err != nil {
		return err
	}
	s.floor.Store(0)
	s.sweptTo.Store(0)
	return nil
}

func (s *Store) requestSweep() {
	select {
	case s.sweepCh <- struct{}{}:
	default: // a sweep is already due
	}
}

// runSweeper writes tombstones below the floor when asked, and every
// sweepInterval for what is left.
func (s *Store) runSweeper() {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.sweepCh:
		case <-t.C:
		}
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			done, err := s.sweepChunk()
			if err != nil {
				s.logger.Warn("writing tombstones below the compaction floor failed; will retry", "error", err)
				break
			}
			if done {
				break
			}
		}
	}
}

// sweepAll writes every outstanding tombstone now. For tests and benchmarks.
func (s *Store) sweepAll() error {
	for {
		done, err := s.sweepChunk()
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) sweepChunk() (done bool, err error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	return s.sweepChunkLocked()
}

// sweepChunkLocked deletes up to sweepChunkKeys live keys below the floor and
// reports whether none are left. Only keys below the floor are touched, and
// nothing else writes there (StoreLogs lowers the floor under sweepMu first),
// so the sweeper needs no other lock.
func (s *Store) sweepChunkLocked() (done bool, err error) {
	floor, from := s.floor.Load(), s.sweptTo.Load()
	if from >= floor {
		return true, nil
	}
	next := floor
	keys := make([][]byte, 0, sweepChunkKeys)
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix})
		defer it.Close()
		for it.Seek(logKey(from)); it.Valid(); it.Next() {
			index, err := parseLogKey(it.Item().Key())
			if err != nil {
				return err
			}
			if index >= floor {
				break
			}
			if len(keys) == sweepChunkKeys {
				next = index
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(keys) > 0 {
		if err := s.deleteKeys(keys); err != nil {
			return false, err
		}
	}
	s.sweptTo.Store(next)
	return next >= floor, nil
}
