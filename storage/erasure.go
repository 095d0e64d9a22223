package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// EraseChild makes every case of a child unreadable, for good: it records
// the erasure in the ledger of the child-keys database, physically purges
// the child's data key there, then deletes the child's cases and their
// index entries from data/, leaves a tombstone per case (so later reads say
// ErrErased), records the erasure in data/'s ledger and audits it, all in
// one synced transaction. Copies of the cases elsewhere (backups of data/)
// hold only ciphertext under the purged key. Erasing an erased child again
// is a no-op that is still audited.
func (s *Store) EraseChild(ctx context.Context, child v1.ID, who Access) error {
	if err := who.check(false); err != nil {
		return fmt.Errorf("erase child: %w", err)
	}
	if !child.Valid() {
		return fmt.Errorf("erase child: %w: %.40q is not a child ID", schemas.ErrInvalid, string(child))
	}
	rec := erasureRecord{ChildID: child, ErasedAt: time.Now().UTC(), Actor: who.Actor}
	return s.submit(ctx, s.eraseRequest(rec, who))
}

// eraseRequest is the writer request that erases a child (also used by Open
// to complete an erasure found in only one ledger).
func (s *Store) eraseRequest(rec erasureRecord, who Access) *request {
	r := &request{op: "erase child", durable: true}
	r.prepare = func(b *batch) error {
		if err := s.eraseChildKey(rec); err != nil {
			s.log.Error("erasure: cannot purge child data key", "child", rec.ChildID, "err", err)
			return fmt.Errorf("erase child %s: %w", rec.ChildID, err)
		}
		if b.keys == nil {
			b.keys = map[v1.ID][]byte{}
		}
		b.keys[rec.ChildID] = nil
		return nil
	}
	r.apply = func(b *batch) (error, error) {
		n, err := b.eraseCases(rec, who)
		if err != nil {
			return nil, err
		}
		if _, err := b.txn.Get(ledgerKey(rec.ChildID)); errors.Is(err, badger.ErrKeyNotFound) {
			enc, err := encodeErasure(rec)
			if err != nil {
				return nil, err
			}
			if err := b.txn.Set(ledgerKey(rec.ChildID), enc); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		e := s.entry(who, v1.ActionKeyErase, string(rec.ChildID))
		if err := b.appendAudit(e); err != nil {
			return nil, err
		}
		s.log.Info("child erased", "child", rec.ChildID, "cases", n)
		return nil, nil
	}
	return r
}

// eraseCases deletes the child's cases and index entries (match-candidate
// entries included), leaves a tombstone for each case, and audits each
// deletion.
func (b *batch) eraseCases(rec erasureRecord, who Access) (int, error) {
	var ids []v1.CaseID
	prefix := childIndexPrefix(rec.ChildID)
	err := scanKeys(b.txn, prefix, nil, func(key []byte) (bool, error) {
		ids = append(ids, v1.CaseID(key[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		sum, err := readSummary(b.txn, id)
		if errors.Is(err, ErrNotFound) {
			// An index entry without its summary: drop the entry.
			if err := b.txn.Delete(cat(prefix, []byte(id))); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := deleteSummary(b.txn, sum); err != nil {
			return 0, err
		}
		if err := b.txn.Delete(caseKey(id)); err != nil {
			return 0, err
		}
		if err := b.txn.Set(tombstoneKey(id), []byte(rec.ChildID)); err != nil {
			return 0, err
		}
		if err := b.appendAudit(b.s.entry(who, v1.ActionCaseErase, string(id))); err != nil {
			return 0, err
		}
		b.casesDelta--
	}
	// The match-candidate entries, found by their own prefix so that none
	// can outlive the child.
	if err := b.deleteCandidates(rec.ChildID); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// reconcileErasures completes erasures that an interruption, or a restore of
// either database from a backup, left recorded in only one place: a child in
// either ledger has no data key, no case in data/, and an entry in both
// ledgers. It runs in Open before the writer starts. It also warns about
// cases whose data key is missing without any recorded erasure.
func (s *Store) reconcileErasures() error {
	dataLedger, err := readLedger(s.db)
	if err != nil {
		return fmt.Errorf("read erasure ledger in data: %w", err)
	}
	keyLedger, err := readLedger(s.keys)
	if err != nil {
		return fmt.Errorf("read erasure ledger in child keys: %w", err)
	}
	all := map[v1.ID]erasureRecord{}
	for child, rec := range keyLedger {
		all[child] = rec
	}
	for child, rec := range dataLedger {
		if _, ok := all[child]; !ok {
			all[child] = rec
		}
	}
	var todo []erasureRecord
	for child, rec := range all {
		_, inData := dataLedger[child]
		_, inKeys := keyLedger[child]
		hasKey, hasCases, err := s.childTraces(child)
		if err != nil {
			return err
		}
		if !inData || !inKeys || hasKey || hasCases {
			todo = append(todo, rec)
		}
	}
	for _, rec := range todo {
		who := nodeAccess
		who.Purpose = "complete recorded erasure"
		r := s.eraseRequest(rec, who)
		r.reply = make(chan error, 1)
		s.commitBatch([]*request{r})
		if err := <-r.reply; err != nil {
			return fmt.Errorf("complete erasure of child %s: %w", rec.ChildID, err)
		}
		s.log.Warn("completed an erasure recorded in only one place", "child", rec.ChildID, "erased_at", rec.ErasedAt)
	}
	return s.warnLostKeys()
}

func readLedger(db *badger.DB) (map[v1.ID]erasureRecord, error) {
	out := map[v1.ID]erasureRecord{}
	err := scanValues(db, prefixLedger, func(v []byte) error {
		rec, err := decodeErasure(v)
		if err == nil {
			out[rec.ChildID] = rec
		}
		return err
	})
	return out, err
}

// childTraces reports whether a child still has a data key or cases.
func (s *Store) childTraces(child v1.ID) (hasKey, hasCases bool, err error) {
	err = s.keys.View(func(txn *badger.Txn) error {
		_, err := txn.Get(childKeyKey(child))
		hasKey = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return
	}
	err = s.db.View(func(txn *badger.Txn) error {
		return scanKeys(txn, childIndexPrefix(child), nil, func([]byte) (bool, error) {
			hasCases = true
			return false, nil
		})
	})
	return
}

// warnLostKeys logs children that have cases but neither a data key nor an
// erasure record: their key was lost (a key backup older than the child's
// first case was restored). Their cases cannot be read.
func (s *Store) warnLostKeys() error {
	children := map[v1.ID]bool{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixByChild})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) >= len(prefixByChild)+32 {
				children[v1.ID(k[len(prefixByChild):len(prefixByChild)+32])] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// One key-only pass over the stored keys rather than a lookup per child:
	// at 100,000 children the lookups made Open take seconds.
	lost := 0
	err = s.keys.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixChildKey})
		for it.Rewind(); it.Valid(); it.Next() {
			delete(children, v1.ID(it.Item().Key()[len(prefixChildKey):]))
		}
		it.Close()
		for child := range children { // no key: erased, or lost
			if _, err := txn.Get(ledgerKey(child)); errors.Is(err, badger.ErrKeyNotFound) {
				lost++
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if lost > 0 {
		s.log.Error("children have cases but no data key and no recorded erasure; their cases cannot be read until the latest key backup is restored", "children", lost)
	}
	return nil
}
