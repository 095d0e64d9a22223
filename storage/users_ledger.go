package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The revocation ledger: which users were revoked, when and by whom, kept in
// the child-keys database beside the erasure ledger.
//
//	r/<userID>   revocation ledger entry (keys/childkeys)
//
// Users and their token index live in data/, so a data backup taken before a
// revocation carries the user live, with a working token index entry. The
// ledger in keys/ is what a data restore does not roll back: Open
// (reconcileRevocations) revokes again every user the ledger names and the
// data holds live, and audits it. The other way round, a key backup older than
// a revocation is completed from data/ at the next Open. Both restored from
// before a revocation bring the user back: see docs/backup-restore.md.
var prefixRevocation = []byte("r/")

func revocationKey(id string) []byte { return cat(prefixRevocation, []byte(id)) }

// revocationRecord is one entry of the revocation ledger. It holds nothing
// but the user ID, the time (Unix nanoseconds, as in the user record) and the
// actor.
type revocationRecord struct {
	UserID    string `cbor:"user"`
	RevokedAt int64  `cbor:"at"`
	RevokedBy string `cbor:"by"`
}

func decodeRevocation(b []byte) (revocationRecord, error) {
	var r revocationRecord
	if err := schemas.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("revocation ledger entry: %w", err)
	}
	if !userIDPattern.MatchString(r.UserID) || r.RevokedAt == 0 {
		return r, fmt.Errorf("revocation ledger entry: %w: user %.40q at %d", schemas.ErrMalformed, r.UserID, r.RevokedAt)
	}
	return r, nil
}

// recordRevocation writes rec in the ledger of the child-keys database
// unless the user is already there (the first record is kept). The database
// has SyncWrites on: the entry is on disk when it returns. Only the writer (or
// Open, before the writer starts) calls it.
func (s *Store) recordRevocation(rec revocationRecord) error {
	enc, err := schemas.Marshal(rec)
	if err != nil {
		return err
	}
	err = s.keys.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(revocationKey(rec.UserID)); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(revocationKey(rec.UserID), enc)
	})
	if err != nil {
		return fmt.Errorf("record revocation of user %s in the key ledger: %w", rec.UserID, err)
	}
	return nil
}

// revocationRecorded reports whether the ledger names the user.
func (s *Store) revocationRecorded(id string) (bool, error) {
	found := false
	err := s.keys.View(func(txn *badger.Txn) error {
		_, err := txn.Get(revocationKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

func readRevocations(db *badger.DB) (map[string]revocationRecord, error) {
	out := map[string]revocationRecord{}
	err := scanValues(db, prefixRevocation, func(v []byte) error {
		rec, err := decodeRevocation(v)
		if err == nil {
			out[rec.UserID] = rec
		}
		return err
	})
	return out, err
}

// scanValues calls fn with the value of every entry of db under prefix, in
// key order, in one read transaction, until fn returns an error.
func scanValues(db *badger.DB, prefix []byte, fn func(v []byte) error) error {
	return db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := it.Item().Value(fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// reconcileRevocations makes the two places a revocation is kept agree. It
// runs in Open (and so in Restore and RestoreKeys) before the writer starts:
//
//   - a user the ledger names but data/ holds live (a data backup older than
//     the revocation was restored) is revoked again, with the ledger's time
//     and actor, its token index entry deleted, and an audit entry saying so;
//   - a user revoked in data/ but missing from the ledger (a key backup older
//     than the revocation was restored, or a store from before the ledger
//     existed) is recorded in the ledger.
//
// A ledger entry whose user data/ does not hold at all (a data backup older
// than the user) needs nothing: no user, no token; CreateUser refuses the ID.
func (s *Store) reconcileRevocations() error {
	ledger, err := readRevocations(s.keys)
	if err != nil {
		return fmt.Errorf("read revocation ledger in child keys: %w", err)
	}
	var live []revocationRecord
	var missing []revocationRecord
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixUser, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec userRecord
			if err := it.Item().Value(func(v []byte) error { return schemas.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("user %s: stored record: %w", it.Item().Key()[len(prefixUser):], err)
			}
			l, inLedger := ledger[rec.ID]
			switch {
			case inLedger && rec.RevokedAt == 0:
				live = append(live, l)
			case !inLedger && rec.RevokedAt != 0:
				missing = append(missing, revocationRecord{UserID: rec.ID, RevokedAt: rec.RevokedAt, RevokedBy: rec.RevokedBy})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	for _, rec := range missing {
		if err := s.recordRevocation(rec); err != nil {
			return err
		}
		s.log.Info("recorded a revocation missing from the key ledger", "user", rec.UserID)
	}
	for _, rec := range live {
		r := s.reapplyRevocationRequest(rec)
		r.reply = make(chan error, 1)
		s.commitBatch([]*request{r})
		if err := <-r.reply; err != nil {
			return fmt.Errorf("re-apply revocation of user %s: %w", rec.UserID, err)
		}
		s.log.Warn("re-applied a revocation the data directory did not hold (restored from an older backup?)",
			"user", rec.UserID, "revoked_at", time.Unix(0, rec.RevokedAt).UTC(), "revoked_by", rec.RevokedBy)
	}
	return nil
}

// reapplyRevocationRequest revokes, in data/, a user the ledger names.
func (s *Store) reapplyRevocationRequest(l revocationRecord) *request {
	r := &request{op: "re-apply revocation", durable: true}
	r.apply = func(b *batch) (error, error) {
		who := nodeAccess
		who.Purpose = "re-apply a revocation recorded in the key ledger"
		rec, err := readUser(b.txn, l.UserID)
		if err != nil {
			return nil, err
		}
		e := s.entry(who, v1.ActionUserRevoke, l.UserID)
		e.Reason = fmt.Sprintf("revoked at %s by %s; the data directory held the user live (restored from a backup taken before the revocation, or the revocation was interrupted)",
			time.Unix(0, l.RevokedAt).UTC().Format(time.RFC3339), l.RevokedBy)
		if rec.RevokedAt == 0 {
			rec.RevokedAt, rec.RevokedBy = l.RevokedAt, l.RevokedBy
			enc, err := schemas.Marshal(rec)
			if err != nil {
				return nil, err
			}
			if err := b.txn.Set(userKey(rec.ID), enc); err != nil {
				return nil, err
			}
			if err := b.txn.Delete(tokenKey(rec.TokenHash)); err != nil {
				return nil, err
			}
		}
		return nil, b.appendAudit(e)
	}
	return r
}
