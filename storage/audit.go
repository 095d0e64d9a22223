package storage

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage/auditlog"
)

// Audit appends an entry the node records itself (a refused access, a
// share or a decision not to share, a login) and returns once it is on
// disk. The entry's authority is set to the store's when empty, and must be
// the store's otherwise.
func (s *Store) Audit(ctx context.Context, e *v1.AuditEntry) error {
	entry := *e
	if entry.Authority == "" {
		entry.Authority = s.cfg.Authority
	}
	if entry.Authority != s.cfg.Authority {
		return fmt.Errorf("audit: %w: entry of authority %s in the log of %s", ErrWrongAuthority, entry.Authority, s.cfg.Authority)
	}
	if err := entry.Validate(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return s.record(ctx, &entry, true)
}

// AuditCheckpoint returns the checkpoint of the committed audit log.
func (s *Store) AuditCheckpoint() (auditlog.Checkpoint, error) {
	var cp auditlog.Checkpoint
	err := s.view(func(txn *badger.Txn) error {
		var err error
		cp, err = s.audit.Checkpoint(txn)
		return err
	})
	return cp, err
}

// SignedCheckpoint returns the checkpoint of the committed audit log signed
// with the authority key (a C2SP signed note), for peers to witness.
func (s *Store) SignedCheckpoint() ([]byte, error) {
	var signed []byte
	err := s.guard(func() error {
		var err error
		signed, _, err = s.signCheckpoint()
		return err
	})
	return signed, err
}

// VerifyAudit recomputes the whole audit log from its entries and checks
// every stored hash (auditlog.Log.Verify), reporting progress. It returns
// the verified checkpoint.
func (s *Store) VerifyAudit(progress func(done, total int64)) (auditlog.Checkpoint, error) {
	var cp auditlog.Checkpoint
	err := s.view(func(txn *badger.Txn) error {
		var err error
		cp, err = s.audit.Verify(txn, progress)
		return err
	})
	if err != nil {
		return cp, fmt.Errorf("verify audit log: %w", err)
	}
	return cp, nil
}

// AuditEntries returns up to n entries of the audit log from index from.
func (s *Store) AuditEntries(from int64, n int) ([]v1.AuditEntry, error) {
	var out []v1.AuditEntry
	err := s.view(func(txn *badger.Txn) error {
		size, err := s.audit.Size(txn)
		if err != nil {
			return err
		}
		if from < 0 || from > size {
			return fmt.Errorf("audit entries from %d: %w: the log has %d entries", from, auditlog.ErrOutOfRange, size)
		}
		for i := from; i < size && len(out) < n; i++ {
			b, err := s.audit.Entry(txn, i)
			if err != nil {
				return err
			}
			e, err := v1.UnmarshalAuditEntry(b)
			if err != nil {
				return fmt.Errorf("audit entry %d: %w", i, err)
			}
			out = append(out, *e)
		}
		return nil
	})
	return out, err
}

// ProveInclusion proves that entry index is in the log's tree of the given size.
func (s *Store) ProveInclusion(index, size int64) (tlog.RecordProof, error) {
	var p tlog.RecordProof
	err := s.view(func(txn *badger.Txn) error {
		var err error
		p, err = s.audit.ProveInclusion(txn, index, size)
		return err
	})
	return p, err
}

// ProveConsistency proves that the log's tree of oldSize is a prefix of its
// tree of newSize.
func (s *Store) ProveConsistency(oldSize, newSize int64) (tlog.TreeProof, error) {
	var p tlog.TreeProof
	err := s.view(func(txn *badger.Txn) error {
		var err error
		p, err = s.audit.ProveConsistency(txn, oldSize, newSize)
		return err
	})
	return p, err
}

// open returns ErrClosed once Close has begun.
func (s *Store) open() error {
	select {
	case <-s.closing:
		return ErrClosed
	default:
		return nil
	}
}

// guard runs fn unless the store is closed, and keeps Close from closing
// the databases until fn returns.
func (s *Store) guard(fn func() error) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if err := s.open(); err != nil {
		return err
	}
	return fn()
}

// view runs fn in a read transaction of the data database, under guard.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	return s.guard(func() error { return s.db.View(fn) })
}
