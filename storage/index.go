package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Key layout of the data database. Every key starts with a one-letter
// family; identifiers are fixed-width or end the key, and user IDs (the only
// variable text) cannot contain a NUL byte (v1 refuses control characters),
// so 0x00 separates them from the case ID.
//
//	c/<caseID>                        case value: AES-256-GCM under the child's key
//	s/<caseID>                        summary (non-identifying fields only)
//	x/<caseID>                        tombstone of an erased case: child ID
//	e/<childID>                       erasure ledger entry
//	i/st/<state> 0x00 <caseID>        index by state
//	i/ra/<authority><caseID>          index by responsible authority (3 letters)
//	i/lw/<leadWorker> 0x00 <caseID>   index by lead worker
//	i/dl/<deadline ns, 8 bytes BE><caseID>   index by next deadline, ordered
//	i/ch/<childID><caseID>            the child's cases (for erasure)
//	o/<msgID>                         outbox message
//	i/od/<next attempt ns><msgID>     outbox, by next attempt
//	i/ox/<expiry ns><msgID>           outbox, by expiry
//	a/...                             audit log (package auditlog)
//	m/authority                       the authority that owns the directory
var (
	prefixCase      = []byte("c/")
	prefixSummary   = []byte("s/")
	prefixTombstone = []byte("x/")
	prefixLedger    = []byte("e/")
	prefixByState   = []byte("i/st/")
	prefixByAuth    = []byte("i/ra/")
	prefixByWorker  = []byte("i/lw/")
	prefixByDue     = []byte("i/dl/")
	prefixByChild   = []byte("i/ch/")
	prefixOutbox    = []byte("o/")
	prefixOutboxDue = []byte("i/od/")
	prefixOutboxExp = []byte("i/ox/")
	prefixAudit     = []byte("a/")
	keyAuthority    = []byte("m/authority")
)

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func timeKey(t time.Time) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
	return b
}

func caseKey(id v1.CaseID) []byte      { return cat(prefixCase, []byte(id)) }
func summaryKey(id v1.CaseID) []byte   { return cat(prefixSummary, []byte(id)) }
func tombstoneKey(id v1.CaseID) []byte { return cat(prefixTombstone, []byte(id)) }
func ledgerKey(child v1.ID) []byte     { return cat(prefixLedger, []byte(child)) }
func childIndexPrefix(child v1.ID) []byte {
	return cat(prefixByChild, []byte(child))
}

// CaseSummary is the part of a case that lists and overdue queries need. It
// holds no identifying field: it is kept unencrypted by the store (Badger
// still encrypts it at rest) so that lists never decrypt a case.
type CaseSummary struct {
	ID           v1.CaseID
	ChildID      v1.ID
	State        v1.CaseState
	Responsible  v1.AuthorityCode
	LeadWorker   string
	NextDeadline *time.Time // nil when nothing is due
	Revision     uint64
}

// summaryRecord is the stored form of a CaseSummary.
type summaryRecord struct {
	ID          v1.CaseID        `cbor:"id"`
	ChildID     v1.ID            `cbor:"child"`
	State       v1.CaseState     `cbor:"state"`
	Responsible v1.AuthorityCode `cbor:"resp"`
	LeadWorker  string           `cbor:"lw,omitempty"`
	Deadline    int64            `cbor:"due,omitempty"` // Unix nanoseconds; 0 when none
	Revision    uint64           `cbor:"rev"`
}

func summaryOf(c *v1.Case) CaseSummary {
	s := CaseSummary{
		ID: c.ID, ChildID: c.ChildID, State: c.State, Responsible: c.Responsible,
		LeadWorker: c.LeadWorker, Revision: c.Revision,
	}
	if c.NextDeadline != nil {
		t := c.NextDeadline.UTC()
		s.NextDeadline = &t
	}
	return s
}

func encodeSummary(s CaseSummary) ([]byte, error) {
	r := summaryRecord{ID: s.ID, ChildID: s.ChildID, State: s.State, Responsible: s.Responsible,
		LeadWorker: s.LeadWorker, Revision: s.Revision}
	if s.NextDeadline != nil {
		r.Deadline = s.NextDeadline.UnixNano()
	}
	return schemas.Marshal(r)
}

func decodeSummary(b []byte) (CaseSummary, error) {
	var r summaryRecord
	if err := schemas.Unmarshal(b, &r); err != nil {
		return CaseSummary{}, fmt.Errorf("case summary: %w", err)
	}
	s := CaseSummary{ID: r.ID, ChildID: r.ChildID, State: r.State, Responsible: r.Responsible,
		LeadWorker: r.LeadWorker, Revision: r.Revision}
	if r.Deadline != 0 {
		t := time.Unix(0, r.Deadline).UTC()
		s.NextDeadline = &t
	}
	return s, nil
}

// indexKeys returns the secondary-index keys of a summary.
func indexKeys(s CaseSummary) [][]byte {
	id := []byte(s.ID)
	keys := [][]byte{
		cat(prefixByState, []byte(s.State), []byte{0}, id),
		cat(prefixByAuth, []byte(s.Responsible), id),
		cat(childIndexPrefix(s.ChildID), id),
	}
	if s.LeadWorker != "" {
		keys = append(keys, cat(prefixByWorker, []byte(s.LeadWorker), []byte{0}, id))
	}
	if s.NextDeadline != nil {
		keys = append(keys, cat(prefixByDue, timeKey(*s.NextDeadline), id))
	}
	return keys
}

// readSummary returns the stored summary of a case, or ErrNotFound.
func readSummary(txn *badger.Txn, id v1.CaseID) (CaseSummary, error) {
	item, err := txn.Get(summaryKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return CaseSummary{}, ErrNotFound
	}
	if err != nil {
		return CaseSummary{}, err
	}
	var s CaseSummary
	err = item.Value(func(v []byte) error {
		s, err = decodeSummary(v)
		return err
	})
	return s, err
}

// putSummary stores a case's summary and index entries, replacing those of
// old (nil for a new case).
func putSummary(txn *badger.Txn, s CaseSummary, old *CaseSummary) error {
	keep := map[string]bool{}
	for _, k := range indexKeys(s) {
		keep[string(k)] = true
	}
	if old != nil {
		for _, k := range indexKeys(*old) {
			if !keep[string(k)] {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
	}
	b, err := encodeSummary(s)
	if err != nil {
		return err
	}
	if err := txn.Set(summaryKey(s.ID), b); err != nil {
		return err
	}
	for k := range keep {
		if err := txn.Set([]byte(k), nil); err != nil {
			return err
		}
	}
	return nil
}

// deleteSummary removes a case's summary and index entries.
func deleteSummary(txn *badger.Txn, s CaseSummary) error {
	for _, k := range indexKeys(s) {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return txn.Delete(summaryKey(s.ID))
}

// scanKeys calls fn with the key of every entry under prefix, from the first
// key at or after start (nil: the prefix itself), in key order, until fn
// returns false or an error.
func scanKeys(txn *badger.Txn, prefix, start []byte, fn func(key []byte) (bool, error)) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	if start == nil {
		start = prefix
	}
	for it.Seek(start); it.Valid(); it.Next() {
		more, err := fn(it.Item().KeyCopy(nil))
		if err != nil || !more {
			return err
		}
	}
	return nil
}
