package raftstore

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// loadStable fills the stable-store cache from disk.
func (s *Store) loadStable() error {
	stable := map[string][]byte{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixStable}, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			stable[string(it.Item().Key()[1:])] = v
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raftstore: load stable store: %w", err)
	}
	s.stable = stable
	return nil
}

// Set stores a stable-store value durably.
func (s *Store) Set(key, val []byte) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	s.setMu.Lock()
	defer s.setMu.Unlock()
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(stableKey(key), val)
	}); err != nil {
		// The commit may or may not have reached the disk: forget the key
		// so the next Get cannot serve a value the disk does not hold.
		s.stableMu.Lock()
		delete(s.stable, string(key))
		s.stableMu.Unlock()
		s.reloadStableKey(key)
		return fmt.Errorf("raftstore: set %q: %w", key, err)
	}
	s.stableMu.Lock()
	s.stable[string(key)] = append([]byte{}, val...)
	s.stableMu.Unlock()
	return nil
}

// reloadStableKey re-reads one stable key after a failed Set.
func (s *Store) reloadStableKey(key []byte) {
	_ = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(stableKey(key))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		s.stableMu.Lock()
		s.stable[string(key)] = v
		s.stableMu.Unlock()
		return nil
	})
}

// Get returns a copy of the value stored under key, or ErrKeyNotFound (text
// "not found", as raft requires). It is served from the in-memory copy of the
// stable store.
func (s *Store) Get(key []byte) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.closeMu.RUnlock()
	s.stableMu.RLock()
	v, ok := s.stable[string(key)]
	s.stableMu.RUnlock()
	if !ok {
		return nil, ErrKeyNotFound
	}
	return append([]byte{}, v...), nil
}

// SetUint64 stores val under key as 8 big-endian bytes, durably.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key. For a missing key
// it returns 0 and ErrKeyNotFound, as raft-boltdb does (raft treats "not
// found" as zero).
func (s *Store) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("raftstore: get %q: value is %d bytes, a uint64 needs 8", key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}
