package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage/auditlog"
)

// request is one change for the writer. apply runs inside the batch's data
// transaction: it makes every check first and writes only if they pass, so
// a refused request leaves nothing but its audit entry. It returns result,
// the caller's answer (nil, or a refusal such as ErrConflict), and err when
// the transaction can no longer be used (a Badger error, ErrTxnTooBig);
// apply may be run again in a fresh transaction, so it must not change
// anything outside the transaction and the batch.
type request struct {
	op      string // for logs, e.g. "create case"
	durable bool   // synced to disk before the reply
	child   v1.ID  // the child whose data key apply needs, if any
	// prepare, if set, runs in the writer before the batch's transaction is
	// opened (erasure purges the child's key there).
	prepare func(b *batch) error
	apply   func(b *batch) (result, err error)
	reply   chan error
}

// batch is the state of one data transaction of the writer.
type batch struct {
	s           *Store
	txn         *badger.Txn
	keys        map[v1.ID][]byte // data keys of the batch's children; nil = erased
	appended    int64            // audit entries appended
	casesDelta  int64
	outboxDelta int64
}

// appendAudit adds an audit entry to the log in the batch's transaction.
func (b *batch) appendAudit(e *v1.AuditEntry) error {
	enc, err := v1.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	if _, err := b.s.audit.Append(b.txn, enc); err != nil {
		return err
	}
	b.appended++
	return nil
}

// writerState belongs to the writer goroutine (and to Open and Restore
// before it starts and after it stops).
type writerState struct {
	logSize       int64     // audit entries committed
	witnessedSize int64     // size of the newest checkpoint in the witness file
	dirty         bool      // commits not yet synced
	lastWitness   time.Time // when the witness file was last written
	rebaseNote    string    // Rebase the witness with this reason at its next update
	closeErr      error     // the final sync or witness update failed
}

func (s *Store) initWriter(rebaseNote string) error {
	err := s.db.View(func(txn *badger.Txn) error {
		n, err := s.audit.Size(txn)
		s.w.logSize = n
		return err
	})
	if err != nil {
		return fmt.Errorf("read audit log size: %w", err)
	}
	if s.witness != nil {
		if cp, ok := s.witness.Latest(); ok && rebaseNote == "" {
			s.w.witnessedSize = cp.Size
		}
	}
	s.w.rebaseNote = rebaseNote
	s.w.witnessedSize = min(s.w.witnessedSize, s.w.logSize)
	if rebaseNote != "" {
		s.w.witnessedSize = -1 // force the rebase at the first update
	}
	return nil
}

// submit hands r to the writer and waits for its answer. Once the writer has
// taken the request, submit waits for the outcome even if ctx ends, so that
// the caller always learns whether the change was made.
func (s *Store) submit(ctx context.Context, r *request) error {
	r.reply = make(chan error, 1)
	select {
	case s.requests <- r:
	case <-s.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.reply
}

// writeLoop is the writer: it takes a request, gathers whatever else is
// waiting (group commit), commits them in one transaction and syncs once.
func (s *Store) writeLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-s.requests:
			s.commitBatch(s.gather(r))
		case <-tick.C:
			s.syncAndWitness(false)
		case <-s.closing:
			for {
				select {
				case r := <-s.requests:
					s.commitBatch(s.gather(r))
					continue
				default:
				}
				break
			}
			s.syncAndWitness(true)
			return
		}
	}
}

// gather returns first and every request already waiting, up to MaxBatch.
func (s *Store) gather(first *request) []*request {
	reqs := []*request{first}
	for len(reqs) < s.cfg.MaxBatch {
		select {
		case r := <-s.requests:
			reqs = append(reqs, r)
		default:
			return reqs
		}
	}
	return reqs
}

// commitBatch applies reqs in as few transactions as Badger's size limit
// allows, and replies to each.
func (s *Store) commitBatch(reqs []*request) {
	b := &batch{s: s}
	var runnable []*request
	for _, r := range reqs {
		if r.prepare != nil {
			if err := r.prepare(b); err != nil {
				r.reply <- err
				continue
			}
		}
		runnable = append(runnable, r)
	}
	children := map[v1.ID]bool{}
	for _, r := range runnable {
		if r.child != "" {
			if _, known := b.keys[r.child]; !known {
				children[r.child] = true
			}
		}
	}
	keys, err := s.ensureChildKeys(children)
	if err != nil {
		err = fmt.Errorf("child data keys: %w", err)
		s.log.Error("writer: cannot prepare data keys", "err", err)
		for _, r := range runnable {
			r.reply <- err
		}
		return
	}
	for child, key := range b.keys { // set by prepare (an erasure)
		keys[child] = key
	}

	pending := runnable
	for len(pending) > 0 {
		b, results, failedAt, ferr := s.run(pending, keys)
		if ferr == nil {
			s.commit(b, pending, results)
			return
		}
		b.txn.Discard()
		if failedAt > 0 {
			// Commit the requests before the one that failed, then go on.
			done := pending[:failedAt]
			b, results, _, err := s.run(done, keys)
			if err != nil {
				b.txn.Discard()
				for _, r := range done {
					r.reply <- err
				}
			} else {
				s.commit(b, done, results)
			}
			pending = pending[failedAt:]
			if errors.Is(ferr, badger.ErrTxnTooBig) {
				continue // retry the request alone in a fresh transaction
			}
		}
		if errors.Is(ferr, badger.ErrTxnTooBig) {
			ferr = fmt.Errorf("%s: %w: the change does not fit in one transaction", pending[0].op, ErrTooLarge)
		} else {
			s.log.Error("writer: request failed", "op", pending[0].op, "err", ferr)
		}
		pending[0].reply <- ferr
		pending = pending[1:]
	}
}

// run applies reqs in a fresh transaction until one returns an error.
func (s *Store) run(reqs []*request, keys map[v1.ID][]byte) (b *batch, results []error, failedAt int, err error) {
	b = &batch{s: s, txn: s.db.NewTransaction(true), keys: keys}
	results = make([]error, 0, len(reqs))
	for i, r := range reqs {
		res, err := r.apply(b)
		if err != nil {
			return b, results, i, err
		}
		results = append(results, res)
	}
	return b, results, len(reqs), nil
}

// commit commits a batch, syncs it if any request needs it, and replies.
func (s *Store) commit(b *batch, reqs []*request, results []error) {
	if err := b.txn.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", err)
		s.log.Error("writer: commit failed", "requests", len(reqs), "err", err)
		for _, r := range reqs {
			r.reply <- err
		}
		return
	}
	s.w.logSize += b.appended
	s.cases.Add(b.casesDelta)
	s.outbox.Add(b.outboxDelta)
	s.w.dirty = true
	durable := false
	for _, r := range reqs {
		durable = durable || r.durable
	}
	var syncErr error
	if durable {
		if syncErr = s.sync(); syncErr != nil {
			syncErr = fmt.Errorf("committed but not synced to disk: %w", syncErr)
		}
	}
	for i, r := range reqs {
		if r.durable && syncErr != nil {
			r.reply <- syncErr
			continue
		}
		r.reply <- results[i]
	}
	if durable && syncErr == nil && time.Since(s.w.lastWitness) >= s.cfg.SyncInterval {
		s.updateWitness()
	}
}

// sync makes every commit so far durable.
func (s *Store) sync() error {
	if err := s.db.Sync(); err != nil {
		s.log.Error("writer: sync failed", "err", err)
		return err
	}
	s.w.dirty = false
	return nil
}

// syncAndWitness syncs unsynced commits and brings the witness file up to
// date: every SyncInterval, and once more when the store closes.
func (s *Store) syncAndWitness(final bool) {
	if s.w.dirty {
		if err := s.sync(); err != nil {
			if final {
				s.w.closeErr = fmt.Errorf("final sync: %w", err)
			}
			return
		}
	}
	if err := s.updateWitness(); err != nil && final {
		s.w.closeErr = err
	}
}

// updateWitness records a signed checkpoint of the synced log in the witness
// file if the log has grown since the last one (or rebases the witness after
// a restore). The witness only ever hears of synced entries, so a crash can
// never leave it ahead of the data.
func (s *Store) updateWitness() error {
	if s.witness == nil || s.w.dirty || s.w.logSize == s.w.witnessedSize {
		return nil
	}
	signed, cp, err := s.signCheckpoint()
	if err != nil {
		s.log.Error("writer: cannot sign audit checkpoint", "err", err)
		return err
	}
	if s.w.rebaseNote != "" {
		err = s.witness.Rebase(signed, s.w.rebaseNote)
	} else {
		err = s.witness.Record(signed)
	}
	if err != nil {
		err = fmt.Errorf("record audit checkpoint in witness %s: %w", witnessPath(s.cfg.KeysDir), err)
		s.log.Error("writer: witness update failed", "err", err)
		return err
	}
	if s.w.rebaseNote != "" {
		s.log.Warn("audit witness rebased", "reason", s.w.rebaseNote, "size", cp.Size)
		s.w.rebaseNote = ""
	}
	s.w.witnessedSize = cp.Size
	s.w.lastWitness = time.Now()
	return nil
}

// signCheckpoint signs the checkpoint of the committed log.
func (s *Store) signCheckpoint() ([]byte, auditlog.Checkpoint, error) {
	var cp auditlog.Checkpoint
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		cp, err = s.audit.Checkpoint(txn)
		return err
	})
	if err != nil {
		return nil, cp, fmt.Errorf("audit checkpoint: %w", err)
	}
	signed, err := auditlog.Sign(cp, s.authKey)
	return signed, cp, err
}
