package storage

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// ExportCases calls fn with every stored case, decrypted, in case ID order,
// from one snapshot of the store: one read transaction of data/ and one of
// the child keys, so the cases are those of a single instant. It is for work
// that needs every case at once (the quarterly return, the per-referral
// dataset), which Case would otherwise read and audit one case at a time.
//
// It is one audited read: who must give a purpose and a legal basis
// (ErrNoPurpose), and a single audit entry (action case.export, subject "all
// cases (<count>)") is committed and synced before fn sees the first case.
// The entry holds the purpose, the legal basis and the count of cases in the
// snapshot, never case content. If the export stops early (fn returns an
// error, a case cannot be decrypted, ctx ends), a second entry with outcome
// failed says after how many; the error is returned, wrapping fn's.
//
// Erased cases are not in it; a child erased while the export runs has its
// cases skipped. A case whose child's data key is lost fails the export with
// ErrChildKeyLost. fn must not keep the case past its call if it is not
// allowed to (the caller decides); it must not call ExportCases or Close.
func (s *Store) ExportCases(ctx context.Context, who Access, fn func(*v1.Case) error) error {
	if err := who.check(true); err != nil {
		return fmt.Errorf("export cases: %w", err)
	}
	if who.LegalBasis == "" {
		return fmt.Errorf("export cases: %w: a bulk read also needs a legal basis", ErrNoPurpose)
	}
	if fn == nil {
		return fmt.Errorf("export cases: %w: no function to receive the cases", schemas.ErrInvalid)
	}
	err := s.guard(func() error {
		txn := s.db.NewTransaction(false)
		defer txn.Discard()
		ktxn := s.keys.NewTransaction(false)
		defer ktxn.Discard()
		total := 0
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSummary})
		for it.Rewind(); it.Valid(); it.Next() {
			total++
		}
		it.Close()
		subject := fmt.Sprintf("all cases (%d)", total)
		if err := s.record(ctx, s.entry(who, v1.ActionCaseExport, subject), true); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		done, err := s.exportSnapshot(ctx, txn, ktxn, fn)
		if err != nil {
			e := failed(s.entry(who, v1.ActionCaseExport, subject), fmt.Sprintf("stopped after %d of %d cases", done, total))
			if aerr := s.record(context.WithoutCancel(ctx), e, true); aerr != nil {
				err = errors.Join(err, fmt.Errorf("audit: %w", aerr))
			}
			return err
		}
		s.log.Info("cases exported", "cases", done, "actor", who.Actor, "purpose", who.Purpose)
		return nil
	})
	if err != nil {
		return fmt.Errorf("export cases: %w", err)
	}
	return nil
}

// exportChunk is how many sealed cases exportSnapshot gathers before
// opening them in parallel: decoding and validating a case (CBOR, about
// 0.1 ms) is nearly all of an export's cost, and a bounded chunk keeps the
// memory of an export flat.
const exportChunk = 256

// sealedCase is a case value read from the snapshot, not yet opened.
type sealedCase struct {
	id    v1.CaseID
	key   []byte
	value []byte
	c     *v1.Case
	err   error
}

// exportSnapshot decrypts the cases of txn, their keys read in ktxn, and
// hands each to fn in case ID order. It returns how many fn accepted.
func (s *Store) exportSnapshot(ctx context.Context, txn, ktxn *badger.Txn, fn func(*v1.Case) error) (int, error) {
	keys := map[v1.ID][]byte{} // nil: erased since the snapshot
	done := 0
	chunk := make([]sealedCase, 0, exportChunk)
	flush := func() error {
		openSealed(chunk)
		for i := range chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			if chunk[i].err != nil {
				return chunk[i].err
			}
			if err := fn(chunk[i].c); err != nil {
				return err
			}
			chunk[i] = sealedCase{}
			done++
		}
		chunk = chunk[:0]
		return nil
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSummary, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		var sum CaseSummary
		err := it.Item().Value(func(v []byte) error {
			var err error
			sum, err = decodeSummary(v)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("summary %s: %w", it.Item().Key()[len(prefixSummary):], err)
		}
		key, known := keys[sum.ChildID]
		if !known {
			key, err = lookupChildKey(ktxn, sum.ChildID)
			if errors.Is(err, ErrNotFound) {
				// Purging a key (DropPrefix) is not bound by snapshots: an
				// erasure that began after ktxn was opened can remove the key
				// ktxn should still see. Its ledger entry was committed first.
				key, err = s.childKey(sum.ChildID)
			}
			switch {
			case errors.Is(err, ErrErased):
				key = nil
			case errors.Is(err, ErrNotFound):
				return done, fmt.Errorf("case %s: %w: the data key of child %s is missing and no erasure is recorded; restore the latest key backup", sum.ID, ErrChildKeyLost, sum.ChildID)
			case err != nil:
				return done, fmt.Errorf("case %s: data key: %w", sum.ID, err)
			}
			keys[sum.ChildID] = key
		}
		if key == nil {
			continue // the child was erased after the snapshot was taken
		}
		item, err := txn.Get(caseKey(sum.ID))
		if err != nil {
			return done, fmt.Errorf("case %s: case value: %w", sum.ID, err)
		}
		value, err := item.ValueCopy(nil)
		if err != nil {
			return done, fmt.Errorf("case %s: case value: %w", sum.ID, err)
		}
		chunk = append(chunk, sealedCase{id: sum.ID, key: key, value: value})
		if len(chunk) == exportChunk {
			if err := flush(); err != nil {
				return done, err
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return done, err
		}
	}
	return done, nil
}

// openSealed opens every case of chunk, on up to GOMAXPROCS goroutines,
// all finished when it returns.
func openSealed(chunk []sealedCase) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunk)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(chunk); i = int(next.Add(1)) - 1 {
				sc := &chunk[i]
				sc.c, sc.err = openCaseValue(sc.key, sc.id, sc.value)
			}
		}()
	}
	wg.Wait()
}
