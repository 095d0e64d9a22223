package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// CaseQuery selects cases for ListCases. Zero fields do not filter.
type CaseQuery struct {
	State       v1.CaseState
	Responsible v1.AuthorityCode
	LeadWorker  string
	// DueBefore keeps cases whose next deadline is before it; results then
	// come in deadline order (otherwise in case ID order).
	DueBefore time.Time
	// Limit is the most summaries returned: 0 means DefaultListLimit, and
	// it is capped at MaxListLimit.
	Limit int
	// Cursor continues a list after the summary whose Cursor() it is.
	Cursor string
}

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 5000
)

// Cursor returns the position of s in a list, for CaseQuery.Cursor.
func (s CaseSummary) Cursor() string {
	var due int64
	if s.NextDeadline != nil {
		due = s.NextDeadline.UnixNano()
	}
	return fmt.Sprintf("%016x/%s", uint64(due), s.ID)
}

func parseCursor(c string) (due []byte, id v1.CaseID, err error) {
	dueHex, idText, ok := strings.Cut(c, "/")
	if !ok || len(dueHex) != 16 || !v1.CaseID(idText).Valid() {
		return nil, "", fmt.Errorf("%w: cursor %.60q is not one returned by CaseSummary.Cursor", schemas.ErrInvalid, c)
	}
	due, err = hex.DecodeString(dueHex)
	if err != nil {
		return nil, "", fmt.Errorf("%w: cursor %.60q is not one returned by CaseSummary.Cursor", schemas.ErrInvalid, c)
	}
	return due, v1.CaseID(idText), nil
}

func (q CaseQuery) validate() error {
	ch := schemas.NewChecker()
	if q.State != "" {
		ok := false
		for _, st := range v1.CaseStates {
			ok = ok || st == q.State
		}
		ch.Check(ok, "state", "is not a case state")
	}
	ch.Text("lead_worker", q.LeadWorker, false, v1.MaxShortText, false)
	ch.Check(q.Responsible == "" || len(q.Responsible) == 3, "responsible", "is not an authority code")
	ch.Check(q.Limit >= 0, "limit", "is negative")
	return ch.Err()
}

// describe renders a query for its audit entry: filters only, no content.
func (q CaseQuery) describe() string {
	var parts []string
	if q.State != "" {
		parts = append(parts, "state="+string(q.State))
	}
	if q.Responsible != "" {
		parts = append(parts, "responsible="+string(q.Responsible))
	}
	if q.LeadWorker != "" {
		parts = append(parts, "lead_worker="+q.LeadWorker)
	}
	if !q.DueBefore.IsZero() {
		parts = append(parts, "due_before="+q.DueBefore.UTC().Format(time.RFC3339))
	}
	d := "cases"
	if len(parts) > 0 {
		d += "?" + strings.Join(parts, "&")
	}
	if r := []rune(d); len(r) > v1.MaxShortText {
		d = string(r[:v1.MaxShortText])
	}
	return d
}

// ListCases returns the summaries of the cases that match q, from the
// summary index only: no case is decrypted. It is audited like a read (who
// must give a purpose).
func (s *Store) ListCases(ctx context.Context, q CaseQuery, who Access) ([]CaseSummary, error) {
	if err := who.check(true); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	var list []CaseSummary
	err := s.view(func(txn *badger.Txn) error {
		var err error
		list, err = listCases(txn, q)
		return err
	})
	if errors.Is(err, ErrClosed) {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	e := s.entry(who, v1.ActionCaseList, q.describe())
	if err != nil {
		failed(e, "list failed")
	}
	if aerr := s.record(ctx, e, s.cfg.SyncReads); aerr != nil {
		return nil, fmt.Errorf("list cases: audit: %w", aerr)
	}
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return list, nil
}

func listCases(txn *badger.Txn, q CaseQuery) ([]CaseSummary, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var curDue []byte
	var curID v1.CaseID
	if q.Cursor != "" {
		var err error
		if curDue, curID, err = parseCursor(q.Cursor); err != nil {
			return nil, err
		}
	}

	// Scan the most selective index; idAt says where the case ID starts in
	// its keys.
	var prefix []byte
	idAt := 0
	switch {
	case !q.DueBefore.IsZero():
		prefix, idAt = prefixByDue, len(prefixByDue)+8
	case q.State != "":
		prefix = cat(prefixByState, []byte(q.State), []byte{0})
	case q.LeadWorker != "":
		prefix = cat(prefixByWorker, []byte(q.LeadWorker), []byte{0})
	case q.Responsible != "":
		prefix = cat(prefixByAuth, []byte(q.Responsible))
	default:
		prefix = prefixSummary
	}
	if idAt == 0 {
		idAt = len(prefix)
	}
	var start []byte
	if q.Cursor != "" {
		if idAt > len(prefix) {
			start = cat(prefix, curDue, []byte(curID), []byte{0})
		} else {
			start = cat(prefix, []byte(curID), []byte{0})
		}
	}
	var dueLimit []byte
	if !q.DueBefore.IsZero() {
		dueLimit = timeKey(q.DueBefore)
	}

	var out []CaseSummary
	err := scanKeys(txn, prefix, start, func(key []byte) (bool, error) {
		if dueLimit != nil && bytes.Compare(key[len(prefix):idAt], dueLimit) >= 0 {
			return false, nil
		}
		id := v1.CaseID(key[idAt:])
		sum, err := readSummary(txn, id)
		if errors.Is(err, ErrNotFound) {
			return true, nil // an index entry without its summary: skip
		}
		if err != nil {
			return false, err
		}
		if q.matches(sum) {
			out = append(out, sum)
		}
		return len(out) < limit, nil
	})
	return out, err
}

func (q CaseQuery) matches(s CaseSummary) bool {
	switch {
	case q.State != "" && s.State != q.State:
		return false
	case q.Responsible != "" && s.Responsible != q.Responsible:
		return false
	case q.LeadWorker != "" && s.LeadWorker != q.LeadWorker:
		return false
	case !q.DueBefore.IsZero() && (s.NextDeadline == nil || !s.NextDeadline.Before(q.DueBefore)):
		return false
	}
	return true
}
