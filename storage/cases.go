package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// CreateCase stores a new case at revision 1, encrypted under its child's
// data key (created on the child's first case), and audits it in the same
// transaction. It returns once the case is on disk: ErrExists if a case with
// that ID is stored, ErrErased if the child or the case ID has been erased.
func (s *Store) CreateCase(ctx context.Context, c *v1.Case, who Access) error {
	if err := who.check(false); err != nil {
		return fmt.Errorf("create case: %w", err)
	}
	if c.Revision != 1 {
		return fmt.Errorf("create case %s: %w: revision is %d, a new case starts at revision 1", c.ID, schemas.ErrInvalid, c.Revision)
	}
	plain, err := v1.Marshal(c)
	if err != nil {
		return fmt.Errorf("create case: %w", err)
	}
	if len(plain)+caseValueOverhead > maxCaseValue {
		return fmt.Errorf("create case %s: %w: %d bytes encoded, limit %d", c.ID, ErrTooLarge, len(plain), maxCaseValue-caseValueOverhead)
	}
	sum := summaryOf(c)
	cand, err := candidateOf(c.Identity)
	if err != nil {
		return fmt.Errorf("create case: %w", err)
	}
	r := &request{op: "create case", durable: true, child: c.ChildID}
	r.apply = func(b *batch) (error, error) {
		e := s.entry(who, v1.ActionCaseCreate, string(c.ID))
		refusal, err := b.checkWritable(c.ID, c.ChildID)
		if err != nil {
			return nil, err
		}
		if refusal == nil {
			if _, err := readSummary(b.txn, c.ID); err == nil {
				refusal = fmt.Errorf("create case %s: %w", c.ID, ErrExists)
				failed(e, "a case with this ID exists")
			} else if !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		} else {
			failed(e, "child erased")
		}
		if refusal == nil {
			if err := b.putCase(sum, nil, plain, cand); err != nil {
				return nil, err
			}
			b.casesDelta++
		}
		return refusal, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// UpdateCase stores a new revision of a case. c.Revision must be the stored
// revision plus one; otherwise the update was made from a stale copy and
// ErrConflict is returned without writing anything (no last-writer-wins).
// ErrNotFound if there is no such case, ErrErased if it was erased. The
// child of a case cannot change. It returns once the update is on disk.
func (s *Store) UpdateCase(ctx context.Context, c *v1.Case, who Access) error {
	if err := who.check(false); err != nil {
		return fmt.Errorf("update case: %w", err)
	}
	plain, err := v1.Marshal(c)
	if err != nil {
		return fmt.Errorf("update case: %w", err)
	}
	if len(plain)+caseValueOverhead > maxCaseValue {
		return fmt.Errorf("update case %s: %w: %d bytes encoded, limit %d", c.ID, ErrTooLarge, len(plain), maxCaseValue-caseValueOverhead)
	}
	sum := summaryOf(c)
	cand, err := candidateOf(c.Identity)
	if err != nil {
		return fmt.Errorf("update case: %w", err)
	}
	r := &request{op: "update case", durable: true, child: c.ChildID}
	r.apply = func(b *batch) (error, error) {
		e := s.entry(who, v1.ActionCaseUpdate, string(c.ID))
		refusal, err := b.checkWritable(c.ID, c.ChildID)
		if err != nil {
			return nil, err
		}
		old, refusal, err := b.storedForReplace("update case", e, c.ID, c.ChildID, refusal)
		if err != nil {
			return nil, err
		}
		if refusal == nil && c.Revision != old.Revision+1 {
			refusal = fmt.Errorf("update case %s: %w: stored revision is %d, the update is revision %d (want %d)", c.ID, ErrConflict, old.Revision, c.Revision, old.Revision+1)
			failed(e, fmt.Sprintf("revision conflict: stored %d, given %d", old.Revision, c.Revision))
		}
		if refusal == nil {
			if err := b.putCase(sum, &old, plain, cand); err != nil {
				return nil, err
			}
		}
		return refusal, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// storedForReplace reads the stored summary of a case a new revision is
// about to replace. It passes on a refusal checkWritable already made (the
// child erased), and refuses a case that does not exist or whose child ID
// would change; every refusal marks the audit entry e failed. op names the
// operation in the refusal.
func (b *batch) storedForReplace(op string, e *v1.AuditEntry, id v1.CaseID, child v1.ID, refusal error) (CaseSummary, error, error) {
	if refusal != nil {
		failed(e, "child erased")
		return CaseSummary{}, refusal, nil
	}
	old, err := readSummary(b.txn, id)
	switch {
	case errors.Is(err, ErrNotFound):
		failed(e, "no such case")
		return old, fmt.Errorf("%s %s: %w", op, id, ErrNotFound), nil
	case err != nil:
		return old, nil, err
	case old.ChildID != child:
		failed(e, "child ID changed")
		return old, fmt.Errorf("%s %s: %w: the child ID of a case cannot change", op, id, schemas.ErrInvalid), nil
	}
	return old, nil, nil
}

// checkWritable refuses a write to an erased case or to a case of an erased
// child.
func (b *batch) checkWritable(id v1.CaseID, child v1.ID) (refusal, err error) {
	for _, k := range [][]byte{tombstoneKey(id), ledgerKey(child)} {
		if _, err := b.txn.Get(k); err == nil {
			return fmt.Errorf("case %s: %w", id, ErrErased), nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return nil, err
		}
	}
	if key, ok := b.keys[child]; !ok || key == nil {
		return fmt.Errorf("case %s: %w", id, ErrErased), nil
	}
	return nil, nil
}

// putCase encrypts and stores a case value and its summary and indexes,
// the match-candidate entry cand included.
func (b *batch) putCase(sum CaseSummary, old *CaseSummary, plain []byte, cand candidateEntry) error {
	value, err := sealCase(b.keys[sum.ChildID], sum.ID, plain)
	if err != nil {
		return err
	}
	if err := b.txn.Set(caseKey(sum.ID), value); err != nil {
		return err
	}
	if err := putSummary(b.txn, sum, old); err != nil {
		return err
	}
	return b.putCandidate(sum, cand)
}

// Case returns a case, decrypted. It is an audited read: who must give a
// purpose (ErrNoPurpose), and the audit entry is committed before the case is
// returned. ErrNotFound if there is no such case, ErrErased if it was erased.
func (s *Store) Case(ctx context.Context, id v1.CaseID, who Access) (*v1.Case, error) {
	if err := who.check(true); err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	var c *v1.Case
	readErr := s.guard(func() error {
		var err error
		c, err = s.readCase(id)
		return err
	})
	if errors.Is(readErr, ErrClosed) {
		return nil, fmt.Errorf("read case %s: %w", id, readErr)
	}
	e := s.entry(who, v1.ActionCaseRead, string(id))
	switch {
	case readErr == nil:
	case errors.Is(readErr, ErrNotFound):
		failed(e, "no such case")
	case errors.Is(readErr, ErrErased):
		failed(e, "erased")
	default:
		failed(e, "stored case unreadable")
	}
	if err := s.record(ctx, e, s.cfg.SyncReads); err != nil {
		return nil, fmt.Errorf("read case %s: audit: %w", id, err)
	}
	if readErr != nil {
		return nil, readErr
	}
	return c, nil
}

// readCase reads and decrypts a case without auditing.
func (s *Store) readCase(id v1.CaseID) (*v1.Case, error) {
	var value []byte
	var child v1.ID
	err := s.db.View(func(txn *badger.Txn) error {
		sum, err := readSummary(txn, id)
		if errors.Is(err, ErrNotFound) {
			if _, err := txn.Get(tombstoneKey(id)); err == nil {
				return ErrErased
			}
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		child = sum.ChildID
		item, err := txn.Get(caseKey(id))
		if err != nil {
			return fmt.Errorf("case value: %w", err)
		}
		value, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	key, err := s.childKey(child)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read case %s: %w: the data key of child %s is missing and no erasure is recorded; restore the latest key backup", id, ErrChildKeyLost, child)
	}
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	return openCaseValue(key, id, value)
}

// record appends an audit entry through the writer.
func (s *Store) record(ctx context.Context, e *v1.AuditEntry, durable bool) error {
	r := &request{op: "audit " + string(e.Action), durable: durable}
	r.apply = func(b *batch) (error, error) { return nil, b.appendAudit(e) }
	return s.submit(ctx, r)
}

// CaseCount returns the number of stored cases.
func (s *Store) CaseCount() int { return int(s.cases.Load()) }
