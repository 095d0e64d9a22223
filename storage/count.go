package storage

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
)

// CountDue returns the number of stored cases whose next deadline is before
// now: the number of summaries ListCases(CaseQuery{DueBefore: now}) would
// return with no limit. It reads the keys of the next-deadline index and
// checks that each case still has its summary (ListCases skips an index entry
// without one), but reads no summary or case value and decrypts nothing. It
// is not audited, like CaseCount and OutboxDepth: a number of cases past a
// deadline says nothing about any case (see DESIGN.md).
func (s *Store) CountDue(now time.Time) (int, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("count due cases: %w: no time given", schemas.ErrInvalid)
	}
	limit := timeKey(now)
	idAt := len(prefixByDue) + 8
	n := 0
	err := s.view(func(txn *badger.Txn) error {
		return scanKeys(txn, prefixByDue, nil, func(key []byte) (bool, error) {
			if len(key) <= idAt {
				return true, nil // not an index entry of a case: ListCases finds no summary either
			}
			if bytes.Compare(key[len(prefixByDue):idAt], limit) >= 0 {
				return false, nil
			}
			// Only the summary's presence is checked; its value is not decoded.
			_, err := txn.Get(cat(prefixSummary, key[idAt:]))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				return true, nil
			case err != nil:
				return false, err
			}
			n++
			return true, nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("count due cases: %w", err)
	}
	return n, nil
}
