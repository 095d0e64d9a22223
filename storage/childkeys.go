package storage

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Key layout of the child-keys database (keys/childkeys):
//
//	k/<childID>   the child's 32-byte data key
//	e/<childID>   erasure ledger entry (the same record as in data/)
var prefixChildKey = []byte("k/")

func childKeyKey(child v1.ID) []byte { return cat(prefixChildKey, []byte(child)) }

// ChildKeySize is the length of a child's data key (AES-256).
const ChildKeySize = 32

// erasureRecord is one entry of the erasure ledger: which child, when, by
// whom. It holds nothing else.
type erasureRecord struct {
	ChildID  v1.ID     `cbor:"child"`
	ErasedAt time.Time `cbor:"at"`
	Actor    string    `cbor:"actor"`
}

func encodeErasure(r erasureRecord) ([]byte, error) { return schemas.Marshal(r) }

func decodeErasure(b []byte) (erasureRecord, error) {
	var r erasureRecord
	if err := schemas.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("erasure ledger entry: %w", err)
	}
	return r, nil
}

// lookupChildKey returns the child's data key from the child-keys database:
// ErrErased if the ledger records the child's erasure, ErrNotFound if there
// is no key.
func lookupChildKey(txn *badger.Txn, child v1.ID) ([]byte, error) {
	item, err := txn.Get(childKeyKey(child))
	if err == nil {
		key, err := item.ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		if len(key) != ChildKeySize {
			return nil, fmt.Errorf("data key of child %s: %w: %d bytes", child, schemas.ErrMalformed, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return nil, err
	}
	if _, err := txn.Get(ledgerKey(child)); err == nil {
		return nil, ErrErased
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return nil, err
	}
	return nil, ErrNotFound
}

// childKey returns the data key of a child for a read.
func (s *Store) childKey(child v1.ID) ([]byte, error) {
	var key []byte
	err := s.keys.View(func(txn *badger.Txn) error {
		var err error
		key, err = lookupChildKey(txn, child)
		return err
	})
	return key, err
}

// ensureChildKeys returns the data key of each child, creating the missing
// ones in one synced transaction of the child-keys database before any case
// is written under them. An erased child maps to nil. Only the writer calls it.
func (s *Store) ensureChildKeys(children map[v1.ID]bool) (map[v1.ID][]byte, error) {
	keys := make(map[v1.ID][]byte, len(children))
	if len(children) == 0 {
		return keys, nil
	}
	txn := s.keys.NewTransaction(true)
	defer txn.Discard()
	created := 0
	for child := range children {
		key, err := lookupChildKey(txn, child)
		switch {
		case err == nil:
			keys[child] = key
		case errors.Is(err, ErrErased):
			keys[child] = nil
		case errors.Is(err, ErrNotFound):
			key = make([]byte, ChildKeySize)
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
			if err := txn.Set(childKeyKey(child), key); err != nil {
				return nil, fmt.Errorf("store data key: %w", err)
			}
			keys[child] = key
			created++
		default:
			return nil, fmt.Errorf("read data key: %w", err)
		}
	}
	if created == 0 {
		return keys, nil
	}
	// The child-keys database has SyncWrites on: Commit returns once the new
	// keys are on disk.
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("store data keys: %w", err)
	}
	return keys, nil
}

// eraseChildKey records the erasure in the child-keys ledger (synced) and
// then physically removes the child's data key: DropPrefix flushes the
// memtable without the key and rewrites every table that holds a version of
// it. It is idempotent. Only the writer (or Open, before the writer starts)
// calls it.
func (s *Store) eraseChildKey(rec erasureRecord) error {
	b, err := encodeErasure(rec)
	if err != nil {
		return err
	}
	err = s.keys.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(ledgerKey(rec.ChildID)); err == nil {
			return nil // already recorded; keep the first record
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(ledgerKey(rec.ChildID), b)
	})
	if err != nil {
		return fmt.Errorf("record erasure of child %s in the key ledger: %w", rec.ChildID, err)
	}
	// DropPrefix does nothing unless a live version of the key exists, so the
	// key is not deleted first.
	if err := s.keys.DropPrefix(childKeyKey(rec.ChildID)); err != nil {
		return fmt.Errorf("purge data key of child %s: %w", rec.ChildID, err)
	}
	// Check that no version is left, live or not.
	var left int
	err = s.keys.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: childKeyKey(rec.ChildID), AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if !it.Item().IsDeletedOrExpired() {
				left++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("purge data key of child %s: %d versions remain after DropPrefix", rec.ChildID, left)
	}
	return nil
}
