package auditlog

import (
	"bytes"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// verifyProgressEvery is how many entries Verify checks between calls of its
// progress function.
const verifyProgressEvery = 4096

// Verify recomputes every leaf and interior hash from the stored entries and
// compares them with what is stored, reporting progress; it returns the
// checkpoint of the verified log. Any difference is ErrTampered naming the index.
//
// Verify streams the entries and the stored hashes with two Badger iterators in
// key order and keeps only the roots of the complete subtrees seen so far (at
// most 63 hashes), so its memory does not grow with the log. progress, if not
// nil, is called every few thousand entries and once at the end.
func (l *Log) Verify(txn *badger.Txn, progress func(done, total int64)) (Checkpoint, error) {
	size, err := l.Size(txn)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: verify: %w", err)
	}

	entries := txn.NewIterator(badger.IteratorOptions{Prefix: l.entryPrefix, PrefetchValues: true, PrefetchSize: 64})
	defer entries.Close()
	hashes := txn.NewIterator(badger.IteratorOptions{Prefix: l.hashPrefix, PrefetchValues: true, PrefetchSize: 256})
	defer hashes.Close()
	hashes.Rewind()

	var f frontier
	var i int64
	for entries.Rewind(); entries.Valid(); entries.Next() {
		item := entries.Item()
		key, ok := parseIndexKey(l.entryPrefix, item.Key())
		switch {
		case !ok:
			return Checkpoint{}, fmt.Errorf("auditlog: verify: %w: entry %d: unexpected key %x", ErrTampered, i, item.Key())
		case key > i && i < size:
			return Checkpoint{}, fmt.Errorf("auditlog: verify: %w: entry %d: missing", ErrTampered, i)
		case i >= size:
			return Checkpoint{}, fmt.Errorf("auditlog: verify: %w: entry %d: beyond the log size %d", ErrTampered, key, size)
		}
		var leaf tlog.Hash
		err := item.Value(func(v []byte) error {
			if len(v) == 0 || len(v) > MaxEntrySize {
				return fmt.Errorf("%w: entry %d: %d bytes", ErrTampered, i, len(v))
			}
			leaf = tlog.RecordHash(v)
			return nil
		})
		if err != nil {
			return Checkpoint{}, fmt.Errorf("auditlog: verify: %w", err)
		}
		want, err := tlog.StoredHashesForRecordHash(i, leaf, &f)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("auditlog: verify: entry %d: %w", i, err)
		}
		if err := l.compareStored(hashes, i, want); err != nil {
			return Checkpoint{}, fmt.Errorf("auditlog: verify: %w", err)
		}
		f.push(i, want)
		i++
		if progress != nil && i%verifyProgressEvery == 0 && i < size {
			progress(i, size)
		}
	}
	if i < size {
		return Checkpoint{}, fmt.Errorf("auditlog: verify: %w: entry %d: missing; the log size is %d", ErrTampered, i, size)
	}
	if hashes.Valid() {
		x, _ := parseIndexKey(l.hashPrefix, hashes.Item().Key())
		return Checkpoint{}, fmt.Errorf("auditlog: verify: %w: entry %d: stored hash %d beyond the log size %d", ErrTampered, size, x, size)
	}
	root, err := tlog.TreeHash(size, &f)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: verify: tree hash: %w", err)
	}
	if progress != nil {
		progress(size, size)
	}
	return Checkpoint{Origin: l.origin, Size: size, Root: root}, nil
}

// compareStored checks that the next stored hashes under it are want, the
// hashes Append stored for entry i, and advances it past them.
func (l *Log) compareStored(it *badger.Iterator, i int64, want []tlog.Hash) error {
	base := tlog.StoredHashIndex(0, i)
	for k, h := range want {
		x := base + int64(k)
		if !it.Valid() {
			return fmt.Errorf("%w: entry %d: stored hash %d missing", ErrTampered, i, x)
		}
		item := it.Item()
		got, ok := parseIndexKey(l.hashPrefix, item.Key())
		switch {
		case !ok || got < x:
			return fmt.Errorf("%w: entry %d: unexpected key %x", ErrTampered, i, item.Key())
		case got > x:
			return fmt.Errorf("%w: entry %d: stored hash %d missing", ErrTampered, i, x)
		}
		err := item.Value(func(v []byte) error {
			switch {
			case bytes.Equal(v, h[:]):
				return nil
			case k == 0:
				return fmt.Errorf("%w: entry %d: does not match its stored leaf hash %d", ErrTampered, i, x)
			default:
				return fmt.Errorf("%w: entry %d: stored hash %d (level %d) differs from the hash recomputed from the entries", ErrTampered, i, x, k)
			}
		})
		if err != nil {
			return err
		}
		it.Next()
	}
	return nil
}

// frontier holds the roots of the maximal complete subtrees of the entries
// verified so far, by stored-hash index, left to right: exactly the hashes
// tlog reads to add the next record and to compute the tree hash.
type frontier struct {
	index []int64
	hash  []tlog.Hash
}

// push records the hashes stored for entry i: the subtrees it completed
// (the last of hashes covers them all) replace their left siblings.
func (f *frontier) push(i int64, hashes []tlog.Hash) {
	m := len(hashes) - 1 // number of subtrees merged into the new one
	f.index = append(f.index[:len(f.index)-m], tlog.StoredHashIndex(0, i)+int64(m))
	f.hash = append(f.hash[:len(f.hash)-m], hashes[m])
}

// ReadHashes implements tlog.HashReader over the frontier.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
next:
	for k, x := range indexes {
		for j := len(f.index) - 1; j >= 0; j-- {
			if f.index[j] == x {
				out[k] = f.hash[j]
				continue next
			}
		}
		return nil, fmt.Errorf("stored hash %d not in the verified frontier", x)
	}
	return out, nil
}
