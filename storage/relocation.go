package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Relocation hand-over (ARCHITECTURE.md flow 3) needs two things the
// ordinary case writes do not give:
//
//   - the destination stores a case it received with the origin's ID and
//     revision (CreateCase starts every case at revision 1), and replaces
//     that provisional copy when the origin sends a newer one;
//   - the origin, after marking a case transferred out, must still be able
//     to send the case exactly as it was before, should the hand-over be
//     resumed after a crash. TransferOutCase keeps that copy, sealed under
//     the child's data key like the case itself (so erasing the child makes
//     it unreadable too), in the same transaction as the transfer-out.

// prefixSentCase: h/<case> -> the case as it was before its transfer out,
// sealed under the child's data key.
var prefixSentCase = []byte("h/")

func sentCaseKey(id v1.CaseID) []byte { return cat(prefixSentCase, []byte(id)) }

// InstallRelocatedCase stores a case received in a relocation, as it came:
// with its ID, child ID and revision. It creates the case, or replaces a copy
// this authority is not responsible for (a provisional copy from an earlier
// send, or an old copy of a case this authority once transferred out). It
// refuses with ErrConflict to replace a case this authority is responsible
// for and still holds (not transferred out), or a case of another child. The
// write is audited (case.create or case.update) in the same transaction. It
// returns whether an existing copy was replaced.
func (s *Store) InstallRelocatedCase(ctx context.Context, c *v1.Case, who Access) (replaced bool, err error) {
	if err := who.check(false); err != nil {
		return false, fmt.Errorf("install relocated case: %w", err)
	}
	if c.Revision == 0 {
		return false, fmt.Errorf("install relocated case %s: %w: revision is 0", c.ID, schemas.ErrInvalid)
	}
	plain, err := v1.Marshal(c)
	if err != nil {
		return false, fmt.Errorf("install relocated case: %w", err)
	}
	if len(plain)+caseValueOverhead > maxCaseValue {
		return false, fmt.Errorf("install relocated case %s: %w: %d bytes encoded, limit %d", c.ID, ErrTooLarge, len(plain), maxCaseValue-caseValueOverhead)
	}
	sum := summaryOf(c)
	cand, err := candidateOf(c.Identity)
	if err != nil {
		return false, fmt.Errorf("install relocated case: %w", err)
	}
	r := &request{op: "install relocated case", durable: true, child: c.ChildID}
	r.apply = func(b *batch) (error, error) {
		replaced = false
		e := s.entry(who, v1.ActionCaseCreate, string(c.ID))
		refusal, err := b.checkWritable(c.ID, c.ChildID)
		if err != nil {
			return nil, err
		}
		var old CaseSummary
		exists := false
		if refusal != nil {
			failed(e, "child erased")
		} else if old, err = readSummary(b.txn, c.ID); err == nil {
			exists = true
			e.Action = v1.ActionCaseUpdate
			switch {
			case old.ChildID != c.ChildID:
				refusal = fmt.Errorf("install relocated case %s: %w: a case with this ID is held for another child", c.ID, ErrConflict)
				failed(e, "child ID differs from the held case")
			case old.Responsible == s.cfg.Authority && old.State != v1.StateTransferredOut:
				refusal = fmt.Errorf("install relocated case %s: %w: this authority is responsible for the case it holds under this ID", c.ID, ErrConflict)
				failed(e, "the held case is this authority's")
			}
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if refusal == nil {
			var prev *CaseSummary
			if exists {
				prev = &old
			}
			if err := b.putCase(sum, prev, plain, cand); err != nil {
				return nil, err
			}
			if !exists {
				b.casesDelta++
			}
			replaced = exists
		}
		return refusal, b.appendAudit(e)
	}
	err = s.submit(ctx, r)
	return replaced && err == nil, err
}

// TransferOutCase stores next, the transferred-out revision of a case, like
// UpdateCase (next.Revision must be the stored revision plus one), and in the
// same transaction keeps sent, the case as it was before the transfer out,
// for RelocatedCopy. sent must be the stored revision.
func (s *Store) TransferOutCase(ctx context.Context, next, sent *v1.Case, who Access) error {
	if err := who.check(false); err != nil {
		return fmt.Errorf("transfer out case: %w", err)
	}
	if next.ID != sent.ID || next.ChildID != sent.ChildID || next.Revision != sent.Revision+1 {
		return fmt.Errorf("transfer out case %s: %w: the transferred-out revision does not follow the sent copy", next.ID, schemas.ErrInvalid)
	}
	if next.State != v1.StateTransferredOut || sent.State == v1.StateTransferredOut {
		return fmt.Errorf("transfer out case %s: %w: states are %s then %s, want a held case then transferred_out", next.ID, schemas.ErrInvalid, sent.State, next.State)
	}
	plain, err := v1.Marshal(next)
	if err != nil {
		return fmt.Errorf("transfer out case: %w", err)
	}
	sentPlain, err := v1.Marshal(sent)
	if err != nil {
		return fmt.Errorf("transfer out case: sent copy: %w", err)
	}
	sum := summaryOf(next)
	cand, err := candidateOf(next.Identity)
	if err != nil {
		return fmt.Errorf("transfer out case: %w", err)
	}
	r := &request{op: "transfer out case", durable: true, child: next.ChildID}
	r.apply = func(b *batch) (error, error) {
		e := s.entry(who, v1.ActionCaseUpdate, string(next.ID))
		refusal, err := b.checkWritable(next.ID, next.ChildID)
		if err != nil {
			return nil, err
		}
		old, refusal, err := b.storedForReplace("transfer out case", e, next.ID, next.ChildID, refusal)
		if err != nil {
			return nil, err
		}
		switch {
		case refusal != nil:
		case old.State == v1.StateTransferredOut:
			refusal = fmt.Errorf("transfer out case %s: %w: the case is transferred out already", next.ID, ErrConflict)
			failed(e, "already transferred out")
		case old.Revision != sent.Revision:
			refusal = fmt.Errorf("transfer out case %s: %w: stored revision is %d, the sent copy is revision %d", next.ID, ErrConflict, old.Revision, sent.Revision)
			failed(e, fmt.Sprintf("revision conflict: stored %d, given %d", old.Revision, sent.Revision))
		}
		if refusal == nil {
			value, err := sealCase(b.keys[next.ChildID], sent.ID, sentPlain)
			if err != nil {
				return nil, err
			}
			if err := b.txn.Set(sentCaseKey(sent.ID), value); err != nil {
				return nil, err
			}
			if err := b.putCase(sum, &old, plain, cand); err != nil {
				return nil, err
			}
		}
		return refusal, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// RelocatedCopy returns the copy TransferOutCase kept of a case: the case as
// it was before its transfer out. Like Case it is an audited read.
// ErrNotFound if no copy is kept, ErrErased if the child was erased.
func (s *Store) RelocatedCopy(ctx context.Context, id v1.CaseID, who Access) (*v1.Case, error) {
	if err := who.check(true); err != nil {
		return nil, fmt.Errorf("read relocated copy %s: %w", id, err)
	}
	var c *v1.Case
	readErr := s.guard(func() error {
		var value []byte
		var child v1.ID
		err := s.db.View(func(txn *badger.Txn) error {
			sum, err := readSummary(txn, id)
			if err != nil {
				return err
			}
			child = sum.ChildID
			item, err := txn.Get(sentCaseKey(id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			value, err = item.ValueCopy(nil)
			return err
		})
		if err != nil {
			return err
		}
		key, err := s.childKey(child)
		if errors.Is(err, ErrNotFound) {
			return ErrChildKeyLost
		}
		if err != nil {
			return err
		}
		c, err = openCaseValue(key, id, value)
		return err
	})
	if errors.Is(readErr, ErrClosed) {
		return nil, fmt.Errorf("read relocated copy %s: %w", id, readErr)
	}
	e := s.entry(who, v1.ActionCaseRead, string(id))
	switch {
	case readErr == nil:
	case errors.Is(readErr, ErrNotFound):
		failed(e, "no relocated copy")
	case errors.Is(readErr, ErrErased):
		failed(e, "erased")
	default:
		failed(e, "relocated copy unreadable")
	}
	if err := s.record(ctx, e, s.cfg.SyncReads); err != nil {
		return nil, fmt.Errorf("read relocated copy %s: audit: %w", id, err)
	}
	if readErr != nil {
		return nil, fmt.Errorf("read relocated copy %s: %w", id, readErr)
	}
	return c, nil
}

// ForgetRelocatedCopy deletes the copy TransferOutCase kept, once the
// hand-over is complete. Deleting a copy that is not there is not an error.
func (s *Store) ForgetRelocatedCopy(ctx context.Context, id v1.CaseID) error {
	r := &request{op: "forget relocated copy", durable: true}
	r.apply = func(b *batch) (error, error) {
		return nil, b.txn.Delete(sentCaseKey(id))
	}
	return s.submit(ctx, r)
}
