package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Cross-border alerts as the node keeps them: the alerts it raised (with the
// local case each is about and who has acknowledged it), the alerts it
// received (exactly the minimal v1 alert: no identity field exists to
// store), the match tasks private matching raised for a person, and the
// OPRF key of each alert it raised. Everything lives in the encrypted data
// database; every change that a person or a peer relies on is synced and
// audited in the same transaction.
var (
	prefixIssuedAlert   = []byte("y/")    // y/<alert> -> issuedRecord
	prefixIssuedExp     = []byte("i/yx/") // i/yx/<expires><alert> -> nil
	prefixReceivedAlert = []byte("r/")    // r/<alert> -> receivedRecord
	prefixReceivedExp   = []byte("i/rx/") // i/rx/<expires><alert> -> nil
	prefixMatchTask     = []byte("t/")    // t/<task> -> taskRecord
	prefixTaskByMatch   = []byte("i/tm/") // i/tm/<alert>/<case> -> task ID
	prefixMatchKey      = []byte("m/")    // m/<alert> -> matchKeyRecord
)

// Audit actions of this file (any object.verb is a valid action).
const (
	ActionMatchTaskRaise   v1.AuditAction = "match_task.raise"
	ActionMatchTaskResolve v1.AuditAction = "match_task.resolve"
	ActionMatchKeyCreate   v1.AuditAction = "match_key.create"
	ActionMatchKeyErase    v1.AuditAction = "match_key.erase"
	ActionAlertAck         v1.AuditAction = "alert.ack"
	ActionAlertExpire      v1.AuditAction = "alert.expire"
	ActionCaseMatchScan    v1.AuditAction = "case.match_scan"
)

// Limits of alert records.
const (
	// MaxMatchKeySize bounds one alert's OPRF key.
	MaxMatchKeySize = 256
	// MaxTaskReason bounds the reason a person gives when resolving a task.
	MaxTaskReason = 500
)

// IssuedAlert is an alert this node raised, the case it is about, and the
// authorities that have acknowledged it.
type IssuedAlert struct {
	Alert    v1.CrossBorderAlert
	Case     v1.CaseID
	RaisedBy string
	Acked    []v1.AuthorityCode
}

// ReceivedAlert is an alert another authority raised that targets this one.
type ReceivedAlert struct {
	Alert      v1.CrossBorderAlert
	ReceivedAt time.Time
	Via        string // "gossip" or "digest"
	// MatchedAt is when private matching finished for it; zero until then.
	MatchedAt time.Time
	// Tasks is how many match tasks matching raised.
	Tasks int
}

// Task resolutions: what the person who reviewed a possible match decided.
const (
	TaskOpen          = ""
	TaskSameChild     = "same_child"     // likely the same child: contact the issuer by its route
	TaskNotSameChild  = "not_same_child" // reviewed: a different child
	TaskNoActionTaken = "no_action"      // reviewed: nothing to do (e.g. the alert is stale)
)

// MatchTask is a possible match between a received alert and one of this
// authority's own cases: work for a person, never a share.
type MatchTask struct {
	ID       v1.ID
	Alert    v1.ID
	Issuer   v1.AuthorityCode
	Case     v1.CaseID
	Strength string // the strongest identity key that met, e.g. "name_and_date_of_birth"
	RaisedAt time.Time
	// AlertExpiresAt is when the alert expires; the task outlives it.
	AlertExpiresAt time.Time
	Resolution     string // TaskOpen until a person resolves it
	ResolvedBy     string
	ResolvedAt     time.Time
	Reason         string // the person's reason, kept on this node only
}

// Open reports whether no one has resolved the task yet.
func (t MatchTask) Open() bool { return t.Resolution == TaskOpen }

type issuedRecord struct {
	Alert    v1.CrossBorderAlert `cbor:"alert"`
	Case     v1.CaseID           `cbor:"case"`
	RaisedBy string              `cbor:"by"`
	Acked    []v1.AuthorityCode  `cbor:"acked,omitempty"`
}

type receivedRecord struct {
	Alert      v1.CrossBorderAlert `cbor:"alert"`
	ReceivedAt int64               `cbor:"at"`
	Via        string              `cbor:"via"`
	MatchedAt  int64               `cbor:"matched,omitempty"`
	Tasks      int                 `cbor:"tasks,omitempty"`
}

type taskRecord struct {
	ID         v1.ID            `cbor:"id"`
	Alert      v1.ID            `cbor:"alert"`
	Issuer     v1.AuthorityCode `cbor:"issuer"`
	Case       v1.CaseID        `cbor:"case"`
	Strength   string           `cbor:"strength"`
	RaisedAt   int64            `cbor:"raised"`
	Expires    int64            `cbor:"expires"`
	Resolution string           `cbor:"resolution,omitempty"`
	ResolvedBy string           `cbor:"by,omitempty"`
	ResolvedAt int64            `cbor:"resolved,omitempty"`
	Reason     string           `cbor:"reason,omitempty"`
}

type matchKeyRecord struct {
	Secret  []byte `cbor:"secret"`
	Expires int64  `cbor:"expires"`
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// getRecord reads and decodes one record; found is false when the key is absent.
func getRecord(txn *badger.Txn, key []byte, what string, into any) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = item.Value(func(v []byte) error {
		if err := schemas.Unmarshal(v, into); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	return err == nil, err
}

// readOne reads one record by key under a view; ErrNotFound when absent.
func readOne[R any](s *Store, key []byte, what string) (R, error) {
	var rec R
	var found bool
	err := s.view(func(txn *badger.Txn) error {
		var err error
		found, err = getRecord(txn, key, what, &rec)
		return err
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	return rec, err
}

// liveRecords returns up to limit records, under an expiry index and a
// record prefix, that expire after now, soonest-expiring first.
func liveRecords[R any, P any](s *Store, index, prefix []byte, what string, now time.Time, limit int, public func(R) P) ([]P, error) {
	var out []P
	err := s.view(func(txn *badger.Txn) error {
		ids, err := liveIDs(txn, index, now, clampLimit(limit))
		if err != nil {
			return err
		}
		for _, id := range ids {
			var rec R
			found, err := getRecord(txn, cat(prefix, []byte(id)), what, &rec)
			if err != nil {
				return err
			}
			if found {
				out = append(out, public(rec))
			}
		}
		return nil
	})
	return out, err
}

func putRecord(txn *badger.Txn, key []byte, rec any) error {
	b, err := schemas.Marshal(rec)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

func validAlert(a *v1.CrossBorderAlert) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if len(a.Signature) == 0 {
		return fmt.Errorf("%w: sig: the alert is not signed", schemas.ErrInvalid)
	}
	return nil
}

// --- alerts this node raised ---------------------------------------------

// PutIssuedAlert records an alert this node raised about one of its cases,
// and audits the raise (alert.raise, with the case, purpose and legal
// basis) in the same synced transaction. ErrExists if the alert ID is taken.
func (s *Store) PutIssuedAlert(ctx context.Context, a IssuedAlert, who Access) error {
	if err := who.check(false); err != nil {
		return fmt.Errorf("put issued alert: %w", err)
	}
	alert := a.Alert
	if err := validAlert(&alert); err != nil {
		return fmt.Errorf("put issued alert: %w", err)
	}
	if alert.Issuer != s.cfg.Authority {
		return fmt.Errorf("put issued alert %s: %w: issued by %s, not %s", alert.ID, ErrWrongAuthority, alert.Issuer, s.cfg.Authority)
	}
	if !a.Case.Valid() {
		return fmt.Errorf("put issued alert %s: %w: case: %q is not a case ID", alert.ID, schemas.ErrInvalid, truncateID(string(a.Case)))
	}
	rec := issuedRecord{Alert: alert, Case: a.Case, RaisedBy: a.RaisedBy}
	e := s.entry(who, v1.ActionAlertRaise, string(alert.ID))
	e.Recipient = recipients(&alert)
	r := &request{op: "put issued alert", durable: true}
	r.apply = func(b *batch) (error, error) {
		var old issuedRecord
		found, err := getRecord(b.txn, cat(prefixIssuedAlert, []byte(alert.ID)), "issued alert", &old)
		if err != nil {
			return nil, err
		}
		if found {
			return fmt.Errorf("put issued alert %s: %w", alert.ID, ErrExists), nil
		}
		if err := putRecord(b.txn, cat(prefixIssuedAlert, []byte(alert.ID)), rec); err != nil {
			return nil, err
		}
		if err := b.txn.Set(cat(prefixIssuedExp, timeKey(alert.ExpiresAt), []byte(alert.ID)), nil); err != nil {
			return nil, err
		}
		return nil, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// recipients says to whom an alert went, for its audit entry.
func recipients(a *v1.CrossBorderAlert) string {
	var parts []string
	if a.National {
		parts = append(parts, "national")
	}
	parts = append(parts, a.TargetRegions...)
	for _, t := range a.TargetAuthorities {
		parts = append(parts, string(t))
	}
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ","
		}
		s += p
	}
	if len(s) > v1.MaxShortText {
		s = s[:v1.MaxShortText-3] + "..."
	}
	return s
}

func truncateID(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (r issuedRecord) public() IssuedAlert {
	return IssuedAlert{Alert: r.Alert, Case: r.Case, RaisedBy: r.RaisedBy, Acked: slices.Clone(r.Acked)}
}

// IssuedAlert returns an alert this node raised; ErrNotFound if there is
// none (never raised, or expired and removed).
func (s *Store) IssuedAlert(id v1.ID) (IssuedAlert, error) {
	rec, err := readOne[issuedRecord](s, cat(prefixIssuedAlert, []byte(id)), "issued alert")
	if err != nil {
		return IssuedAlert{}, fmt.Errorf("issued alert %s: %w", id, err)
	}
	return rec.public(), nil
}

// RecordAlertAck records that authority from acknowledged alert id, and
// audits it (alert.ack). A repeated acknowledgement changes nothing;
// ErrNotFound if the alert is not held.
func (s *Store) RecordAlertAck(ctx context.Context, id v1.ID, from v1.AuthorityCode) error {
	r := &request{op: "alert ack", durable: true}
	r.apply = func(b *batch) (error, error) {
		key := cat(prefixIssuedAlert, []byte(id))
		var rec issuedRecord
		found, err := getRecord(b.txn, key, "issued alert", &rec)
		if err != nil {
			return nil, err
		}
		if !found {
			return fmt.Errorf("alert ack %s: %w", id, ErrNotFound), nil
		}
		if slices.Contains(rec.Acked, from) {
			return nil, nil
		}
		rec.Acked = append(rec.Acked, from)
		if err := putRecord(b.txn, key, rec); err != nil {
			return nil, err
		}
		e := s.entry(Access{Actor: "node", Role: "node"}, ActionAlertAck, string(id))
		e.Recipient = string(from)
		return nil, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// --- alerts this node received ---------------------------------------------

// PutReceivedAlert records an alert that targets this authority and audits
// its receipt (alert.receive) in the same synced transaction. It reports
// added false, and changes nothing, when the alert is already held, so a
// redelivery is harmless.
func (s *Store) PutReceivedAlert(ctx context.Context, a ReceivedAlert, who Access) (added bool, err error) {
	if err := who.check(false); err != nil {
		return false, fmt.Errorf("put received alert: %w", err)
	}
	alert := a.Alert
	if err := validAlert(&alert); err != nil {
		return false, fmt.Errorf("put received alert: %w", err)
	}
	if alert.Issuer == s.cfg.Authority {
		return false, fmt.Errorf("put received alert %s: %w: this authority issued it", alert.ID, ErrWrongAuthority)
	}
	if a.ReceivedAt.Year() < 2000 || a.ReceivedAt.Year() >= 2200 {
		return false, fmt.Errorf("put received alert %s: %w: received_at must fall between 2000 and 2199", alert.ID, schemas.ErrInvalid)
	}
	rec := receivedRecord{Alert: alert, ReceivedAt: a.ReceivedAt.UnixNano(), Via: a.Via}
	e := s.entry(who, v1.ActionAlertReceive, string(alert.ID))
	e.Recipient = string(alert.Issuer) // the other party to the share
	e.LegalBasis = alert.LegalBasis
	r := &request{op: "put received alert", durable: true}
	r.apply = func(b *batch) (error, error) {
		added = false
		key := cat(prefixReceivedAlert, []byte(alert.ID))
		var old receivedRecord
		found, err := getRecord(b.txn, key, "received alert", &old)
		if err != nil || found {
			return nil, err
		}
		if err := putRecord(b.txn, key, rec); err != nil {
			return nil, err
		}
		if err := b.txn.Set(cat(prefixReceivedExp, timeKey(alert.ExpiresAt), []byte(alert.ID)), nil); err != nil {
			return nil, err
		}
		added = true
		return nil, b.appendAudit(e)
	}
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	return added, nil
}

func (r receivedRecord) public() ReceivedAlert {
	return ReceivedAlert{Alert: r.Alert, ReceivedAt: unixTime(r.ReceivedAt), Via: r.Via,
		MatchedAt: unixTime(r.MatchedAt), Tasks: r.Tasks}
}

// ReceivedAlert returns a received alert; ErrNotFound if it is not held.
func (s *Store) ReceivedAlert(id v1.ID) (ReceivedAlert, error) {
	rec, err := readOne[receivedRecord](s, cat(prefixReceivedAlert, []byte(id)), "received alert")
	if err != nil {
		return ReceivedAlert{}, fmt.Errorf("received alert %s: %w", id, err)
	}
	return rec.public(), nil
}

// MarkAlertMatched records that private matching finished for a received
// alert and raised tasks tasks. ErrNotFound if the alert is not held.
func (s *Store) MarkAlertMatched(ctx context.Context, id v1.ID, at time.Time, tasks int) error {
	r := &request{op: "mark alert matched", durable: true}
	r.apply = func(b *batch) (error, error) {
		key := cat(prefixReceivedAlert, []byte(id))
		var rec receivedRecord
		found, err := getRecord(b.txn, key, "received alert", &rec)
		if err != nil {
			return nil, err
		}
		if !found {
			return fmt.Errorf("mark alert %s matched: %w", id, ErrNotFound), nil
		}
		rec.MatchedAt, rec.Tasks = at.UnixNano(), tasks
		return nil, putRecord(b.txn, key, rec)
	}
	return s.submit(ctx, r)
}

// liveIDs lists up to limit IDs under an expiry index that expire after now,
// soonest first.
func liveIDs(txn *badger.Txn, prefix []byte, now time.Time, limit int) ([]v1.ID, error) {
	var out []v1.ID
	start := cat(prefix, timeKey(now.Add(time.Nanosecond)))
	err := scanKeys(txn, prefix, start, func(key []byte) (bool, error) {
		if len(key) <= len(prefix)+8 {
			return true, nil
		}
		out = append(out, v1.ID(key[len(prefix)+8:]))
		return len(out) < limit, nil
	})
	return out, err
}

func clampLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

// LiveReceivedAlerts returns up to limit received alerts that expire after
// now, soonest-expiring first.
func (s *Store) LiveReceivedAlerts(now time.Time, limit int) ([]ReceivedAlert, error) {
	return liveRecords(s, prefixReceivedExp, prefixReceivedAlert, "received alert", now, limit, receivedRecord.public)
}

// LiveIssuedAlerts returns up to limit alerts this node raised that expire
// after now, soonest-expiring first.
func (s *Store) LiveIssuedAlerts(now time.Time, limit int) ([]IssuedAlert, error) {
	return liveRecords(s, prefixIssuedExp, prefixIssuedAlert, "issued alert", now, limit, issuedRecord.public)
}

// ExpireAlerts removes the raised and received alerts that expired at or
// before now, with the OPRF keys of the raised ones (so their tokens match
// nothing, ever), audits each removal (alert.expire), and returns how many
// alerts it removed. Match tasks are kept: a person still has to resolve
// them. At most 1000 alerts go in one call; call again while it returns 1000.
func (s *Store) ExpireAlerts(ctx context.Context, now time.Time) (n int, err error) {
	bound := uint64(now.UnixNano())
	r := &request{op: "expire alerts", durable: true}
	r.apply = func(b *batch) (error, error) {
		n = 0
		for _, ix := range []struct {
			index, record []byte
			raised        bool
		}{{prefixIssuedExp, prefixIssuedAlert, true}, {prefixReceivedExp, prefixReceivedAlert, false}} {
			var keys [][]byte
			err := scanKeys(b.txn, ix.index, nil, func(key []byte) (bool, error) {
				if len(key) < len(ix.index)+8 {
					return true, nil
				}
				if binary.BigEndian.Uint64(key[len(ix.index):]) > bound {
					return false, nil
				}
				keys = append(keys, key)
				return n+len(keys) < 1000, nil
			})
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				id := k[len(ix.index)+8:]
				for _, del := range [][]byte{k, cat(ix.record, id)} {
					if err := b.txn.Delete(del); err != nil {
						return nil, err
					}
				}
				if ix.raised {
					if err := b.txn.Delete(cat(prefixMatchKey, id)); err != nil {
						return nil, err
					}
				}
				e := s.entry(Access{Actor: "node", Role: "node"}, ActionAlertExpire, string(id))
				if err := b.appendAudit(e); err != nil {
					return nil, err
				}
				n++
			}
		}
		return nil, nil
	}
	if err := s.submit(ctx, r); err != nil {
		return 0, err
	}
	return n, nil
}

// --- match tasks ------------------------------------------------------------

func (r taskRecord) public() MatchTask {
	return MatchTask{ID: r.ID, Alert: r.Alert, Issuer: r.Issuer, Case: r.Case, Strength: r.Strength,
		RaisedAt: unixTime(r.RaisedAt), AlertExpiresAt: unixTime(r.Expires), Resolution: r.Resolution,
		ResolvedBy: r.ResolvedBy, ResolvedAt: unixTime(r.ResolvedAt), Reason: r.Reason}
}

func taskByMatchKey(alert v1.ID, c v1.CaseID) []byte {
	return cat(prefixTaskByMatch, []byte(alert), []byte("/"), []byte(c))
}

// RaiseMatchTask records a possible match between a received alert and one
// of this authority's cases as a task for a person, and audits it
// (match_task.raise, subject the case). One alert and one case make at most
// one task: raising it again returns the task already held, with added
// false. The task's ID, RaisedAt and resolution are set here.
func (s *Store) RaiseMatchTask(ctx context.Context, t MatchTask, who Access) (task MatchTask, added bool, err error) {
	if err := who.check(false); err != nil {
		return MatchTask{}, false, fmt.Errorf("raise match task: %w", err)
	}
	ch := schemas.NewChecker()
	ch.Check(t.Alert.Valid(), "alert", "is not 32 lower-case hex digits")
	ch.Check(t.Case.Valid(), "case", "is not a case ID")
	ch.Check(len(t.Issuer) == 3, "issuer", "is not an authority code")
	ch.Text("strength", t.Strength, true, v1.MaxShortText, false)
	ch.Check(t.AlertExpiresAt.Year() >= 2000 && t.AlertExpiresAt.Year() < 2200, "alert_expires_at", "must fall between 2000 and 2199")
	if err := ch.Err(); err != nil {
		return MatchTask{}, false, fmt.Errorf("raise match task: %w", err)
	}
	t.ID = v1.NewID()
	if t.RaisedAt.IsZero() {
		t.RaisedAt = time.Now().UTC()
	}
	rec := taskRecord{ID: t.ID, Alert: t.Alert, Issuer: t.Issuer, Case: t.Case, Strength: t.Strength,
		RaisedAt: t.RaisedAt.UnixNano(), Expires: t.AlertExpiresAt.UnixNano()}
	e := s.entry(who, ActionMatchTaskRaise, string(t.Case))
	e.Reason = "possible match with alert " + string(t.Alert) + " from " + string(t.Issuer)
	r := &request{op: "raise match task", durable: true}
	r.apply = func(b *batch) (error, error) {
		added = false
		item, err := b.txn.Get(taskByMatchKey(t.Alert, t.Case))
		if err == nil {
			existing, err := item.ValueCopy(nil)
			if err != nil {
				return nil, err
			}
			var old taskRecord
			found, err := getRecord(b.txn, cat(prefixMatchTask, existing), "match task", &old)
			if err != nil {
				return nil, err
			}
			if found {
				task = old.public()
				return nil, nil
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return nil, err
		}
		if err := putRecord(b.txn, cat(prefixMatchTask, []byte(t.ID)), rec); err != nil {
			return nil, err
		}
		if err := b.txn.Set(taskByMatchKey(t.Alert, t.Case), []byte(t.ID)); err != nil {
			return nil, err
		}
		task, added = rec.public(), true
		return nil, b.appendAudit(e)
	}
	if err := s.submit(ctx, r); err != nil {
		return MatchTask{}, false, err
	}
	return task, added, nil
}

// MatchTask returns one task; ErrNotFound if there is none.
func (s *Store) MatchTask(id v1.ID) (MatchTask, error) {
	rec, err := readOne[taskRecord](s, cat(prefixMatchTask, []byte(id)), "match task")
	if err != nil {
		return MatchTask{}, fmt.Errorf("match task %s: %w", id, err)
	}
	return rec.public(), nil
}

// MatchTasks returns up to limit tasks, the open ones only when openOnly,
// newest first.
func (s *Store) MatchTasks(openOnly bool, limit int) ([]MatchTask, error) {
	limit = clampLimit(limit)
	var out []MatchTask
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixMatchTask, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec taskRecord
			err := it.Item().Value(func(v []byte) error { return schemas.Unmarshal(v, &rec) })
			if err != nil {
				return fmt.Errorf("match task: %w", err)
			}
			if openOnly && rec.Resolution != TaskOpen {
				continue
			}
			out = append(out, rec.public())
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RaisedAt.Equal(out[j].RaisedAt) {
			return out[i].RaisedAt.After(out[j].RaisedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// ValidResolution reports whether r is a resolution a person may record.
func ValidResolution(r string) bool {
	return r == TaskSameChild || r == TaskNotSameChild || r == TaskNoActionTaken
}

// ResolveMatchTask records a person's resolution of an open task, with
// their reason, and audits it (match_task.resolve) in the same synced
// transaction. ErrNotFound if there is no such task, ErrConflict if it is
// already resolved (the first resolution stands).
func (s *Store) ResolveMatchTask(ctx context.Context, id v1.ID, resolution, reason string, who Access) (MatchTask, error) {
	if err := who.check(false); err != nil {
		return MatchTask{}, fmt.Errorf("resolve match task: %w", err)
	}
	ch := schemas.NewChecker()
	ch.Check(id.Valid(), "id", "is not 32 lower-case hex digits")
	ch.Check(ValidResolution(resolution), "resolution", "must be %s, %s or %s", TaskSameChild, TaskNotSameChild, TaskNoActionTaken)
	ch.Text("reason", reason, true, MaxTaskReason, true)
	if err := ch.Err(); err != nil {
		return MatchTask{}, fmt.Errorf("resolve match task: %w", err)
	}
	var task MatchTask
	e := s.entry(who, ActionMatchTaskResolve, string(id))
	r := &request{op: "resolve match task", durable: true}
	r.apply = func(b *batch) (error, error) {
		key := cat(prefixMatchTask, []byte(id))
		var rec taskRecord
		found, err := getRecord(b.txn, key, "match task", &rec)
		if err != nil {
			return nil, err
		}
		if !found {
			return fmt.Errorf("resolve match task %s: %w", id, ErrNotFound), nil
		}
		if rec.Resolution != TaskOpen {
			return fmt.Errorf("resolve match task %s: %w: already resolved as %s by %s", id, ErrConflict, rec.Resolution, rec.ResolvedBy), nil
		}
		rec.Resolution, rec.ResolvedBy, rec.ResolvedAt, rec.Reason = resolution, who.Actor, time.Now().UTC().UnixNano(), reason
		if err := putRecord(b.txn, key, rec); err != nil {
			return nil, err
		}
		task = rec.public()
		e.Subject = string(rec.Case)
		e.Reason = "match task " + string(id) + " resolved: " + resolution
		return nil, b.appendAudit(e)
	}
	if err := s.submit(ctx, r); err != nil {
		return MatchTask{}, err
	}
	return task, nil
}

// --- the OPRF keys of raised alerts ------------------------------------------

// PutAlertMatchKey keeps the OPRF key of an alert this node raised until the
// alert expires, synced, in the encrypted data database; it is audited
// (match_key.create, never the key). ErrExists if the alert already has a
// key: an alert's key is never replaced.
func (s *Store) PutAlertMatchKey(ctx context.Context, alert v1.ID, secret []byte, expires time.Time) error {
	ch := schemas.NewChecker()
	ch.Check(alert.Valid(), "alert", "is not 32 lower-case hex digits")
	ch.Check(len(secret) > 0 && len(secret) <= MaxMatchKeySize, "secret", "must be 1 to %d bytes", MaxMatchKeySize)
	ch.Check(expires.Year() >= 2000 && expires.Year() < 2200, "expires", "must fall between 2000 and 2199")
	if err := ch.Err(); err != nil {
		return fmt.Errorf("put match key: %w", err)
	}
	rec := matchKeyRecord{Secret: bytes.Clone(secret), Expires: expires.UnixNano()}
	e := s.entry(Access{Actor: "node", Role: "node"}, ActionMatchKeyCreate, string(alert))
	r := &request{op: "put match key", durable: true}
	r.apply = func(b *batch) (error, error) {
		key := cat(prefixMatchKey, []byte(alert))
		var old matchKeyRecord
		found, err := getRecord(b.txn, key, "match key", &old)
		if err != nil {
			return nil, err
		}
		if found {
			return fmt.Errorf("put match key of alert %s: %w", alert, ErrExists), nil
		}
		if err := putRecord(b.txn, key, rec); err != nil {
			return nil, err
		}
		return nil, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// AlertMatchKey returns an alert's OPRF key and when it expires;
// ErrNotFound if none is held.
func (s *Store) AlertMatchKey(alert v1.ID) (secret []byte, expires time.Time, err error) {
	rec, err := readOne[matchKeyRecord](s, cat(prefixMatchKey, []byte(alert)), "match key")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("match key of alert %s: %w", alert, err)
	}
	return rec.Secret, unixTime(rec.Expires), nil
}

// DeleteAlertMatchKey forgets an alert's OPRF key (withdrawn or expired),
// audited (match_key.erase). Deleting an absent key is not an error.
func (s *Store) DeleteAlertMatchKey(ctx context.Context, alert v1.ID) error {
	e := s.entry(Access{Actor: "node", Role: "node"}, ActionMatchKeyErase, string(alert))
	r := &request{op: "delete match key", durable: true}
	r.apply = func(b *batch) (error, error) {
		key := cat(prefixMatchKey, []byte(alert))
		if _, err := b.txn.Get(key); errors.Is(err, badger.ErrKeyNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if err := b.txn.Delete(key); err != nil {
			return nil, err
		}
		return nil, b.appendAudit(e)
	}
	return s.submit(ctx, r)
}

// --- identities for private matching ------------------------------------------

// CaseIdentities calls fn with the identity of every case this authority
// holds, for private matching against an alert (subject). The scan is one
// audited read (case.match_scan, with who's purpose and legal basis), not
// one per case; the identities never leave this call. Erased cases and
// cases whose child key is lost are skipped. fn's error stops the scan and
// is returned.
func (s *Store) CaseIdentities(ctx context.Context, subject string, who Access, fn func(id v1.CaseID, identity v1.ChildIdentity) error) error {
	if err := who.check(true); err != nil {
		return fmt.Errorf("case identities: %w", err)
	}
	var ids []v1.CaseID
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSummary, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, v1.CaseID(it.Item().Key()[len(prefixSummary):]))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("case identities: %w", err)
	}
	e := s.entry(who, ActionCaseMatchScan, subject)
	e.Reason = fmt.Sprintf("%d cases scanned", len(ids))
	if err := s.record(ctx, e, true); err != nil {
		return fmt.Errorf("case identities: audit: %w", err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c *v1.Case
		err := s.guard(func() error {
			var err error
			c, err = s.readCase(id)
			return err
		})
		switch {
		case errors.Is(err, ErrClosed):
			return fmt.Errorf("case identities: %w", err)
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrErased), errors.Is(err, ErrChildKeyLost):
			continue
		case err != nil:
			s.log.Warn("case identities: case unreadable", "case", string(id), "err", err)
			continue
		}
		if c.Responsible != "" && c.Responsible != s.cfg.Authority {
			continue
		}
		if err := fn(id, c.Identity); err != nil {
			return err
		}
	}
	return nil
}
