package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage/auditlog"
)

// BackupInfo describes a backup that was written.
type BackupInfo struct {
	Content    string // "data" or "childkeys"
	Authority  v1.AuthorityCode
	CreatedAt  time.Time
	Checkpoint auditlog.Checkpoint // the audit log the backup holds (for data)
	Records    int64               // key-value pairs written
	Bytes      int64               // bytes written to w
}

// backupAccess is who a backup or restore is audited as.
var backupAccess = Access{Actor: "node", Role: "backup", Purpose: "backup and restore", LegalBasis: v1.BasisPublicTask}

// Backup writes an encrypted, authenticated copy of data/ to w while the
// node runs: one consistent snapshot (a single read transaction, whose audit
// checkpoint is in the header), encrypted under a key derived from the
// storage key (see backupstream.go). Case values in it stay encrypted under
// the child keys, which are not in it: back them up with BackupKeys, and keep
// those backups apart and on a short retention. progress, if not nil, is
// called with the bytes written so far. The backup is audited.
func (s *Store) Backup(ctx context.Context, w io.Writer, progress func(done int64)) (BackupInfo, error) {
	info, err := s.backup(ctx, s.db, backupContentDB, w, progress)
	e := s.entry(backupAccess, v1.ActionBackupCreate, "data@"+strconv.FormatInt(info.Checkpoint.Size, 10))
	if err != nil {
		failed(e, "backup failed")
	}
	if aerr := s.record(context.WithoutCancel(ctx), e, true); aerr != nil && err == nil {
		err = fmt.Errorf("backup: audit: %w", aerr)
	}
	return info, err
}

// BackupKeys writes an encrypted, authenticated copy of the child-keys
// database (keys/childkeys: data keys and erasure ledger) to w. A key backup
// brings erased children's keys back until it is restored and reconciled
// with data/'s ledger: keep key backups on a short retention, apart from
// data backups.
func (s *Store) BackupKeys(ctx context.Context, w io.Writer, progress func(done int64)) (BackupInfo, error) {
	info, err := s.backup(ctx, s.keys, backupContentKey, w, progress)
	e := s.entry(backupAccess, v1.ActionBackupCreate, "childkeys")
	if err != nil {
		failed(e, "backup failed")
	}
	if aerr := s.record(context.WithoutCancel(ctx), e, true); aerr != nil && err == nil {
		err = fmt.Errorf("backup keys: audit: %w", aerr)
	}
	return info, err
}

func (s *Store) backup(ctx context.Context, db *badger.DB, content string, w io.Writer, progress func(int64)) (BackupInfo, error) {
	info := BackupInfo{Content: content, Authority: s.cfg.Authority, CreatedAt: time.Now().UTC()}
	err := s.guard(func() error {
		// The audit checkpoint is read first, then the snapshot is taken;
		// for data/ both come from the same read transaction.
		txn := db.NewTransaction(false)
		defer txn.Discard()
		var err error
		if content == backupContentDB {
			info.Checkpoint, err = s.audit.Checkpoint(txn)
		} else {
			info.Checkpoint, err = s.auditCheckpointLocked()
		}
		if err != nil {
			return err
		}
		bw, err := newBackupWriter(w, s.key, backupHeader{
			Content: content, Authority: string(s.cfg.Authority), CreatedAt: info.CreatedAt,
			AuditOrigin: info.Checkpoint.Origin, AuditSize: info.Checkpoint.Size, AuditRoot: info.Checkpoint.Root[:],
		}, progress)
		if err != nil {
			return err
		}
		if info.Records, err = s.writeSnapshot(ctx, txn, bw); err != nil {
			return err
		}
		if err := bw.Close(); err != nil {
			return err
		}
		info.Bytes = bw.written
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("backup %s: %w", content, err)
	}
	s.log.Info("backup written", "content", content, "records", info.Records, "bytes", info.Bytes, "audit_size", info.Checkpoint.Size)
	return info, nil
}

// auditCheckpointLocked is AuditCheckpoint for callers already inside guard.
func (s *Store) auditCheckpointLocked() (auditlog.Checkpoint, error) {
	var cp auditlog.Checkpoint
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		cp, err = s.audit.Checkpoint(txn)
		return err
	})
	return cp, err
}

// writeSnapshot writes every live key-value pair visible to txn to w in
// Badger's backup format (uint64 LE length, protobuf KVList), which DB.Load
// reads. Badger's own Stream-based Backup is not used: without managed
// transactions each of its goroutines opens its own read transaction, so
// the key ranges would come from different moments and the audit log might
// not match the cases.
func (s *Store) writeSnapshot(ctx context.Context, txn *badger.Txn, w io.Writer) (int64, error) {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var list pb.KVList
	size := 0
	var n int64
	flush := func() error {
		if len(list.Kv) == 0 {
			return nil
		}
		b, err := proto.Marshal(&list)
		if err != nil {
			return err
		}
		var l [8]byte
		binary.LittleEndian.PutUint64(l[:], uint64(len(b)))
		if _, err := w.Write(l[:]); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		list.Kv, size = list.Kv[:0], 0
		return nil
	}
	for it.Rewind(); it.Valid(); it.Next() {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if err := s.open(); err != nil {
				return n, err
			}
		}
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return n, err
		}
		list.Kv = append(list.Kv, &pb.KV{
			Key: item.KeyCopy(nil), Value: v, Version: item.Version(),
			UserMeta: []byte{item.UserMeta()}, Meta: []byte{0}, ExpiresAt: item.ExpiresAt(),
		})
		n++
		if size += len(v) + len(item.Key()); size >= 1<<20 || len(list.Kv) >= 4096 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// ctxReader stops a restore when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// emptyDir reports whether dir is absent or holds nothing.
func emptyDir(dir string) (exists bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return true, fmt.Errorf("%w: %s holds %d entries; restore only into an empty directory (move this one away, or restore into a new directory and point the configuration at it)", ErrNotEmpty, dir, len(entries))
	}
	return true, nil
}

// clearDir removes what a failed restore left in dir: the directory itself
// if the restore created it, its contents otherwise.
func clearDir(dir string, existed bool) error {
	if !existed {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// loadBackup reads a backup stream of the given content into a new Badger
// database with opts. The whole stream must authenticate and be complete;
// otherwise everything written is removed and an error returned.
func loadBackup(ctx context.Context, r io.Reader, key []byte, opts badger.Options, cfg Config, content string, progress func(int64)) (backupHeader, error) {
	dir := opts.Dir
	existed, err := emptyDir(dir)
	if err != nil {
		return backupHeader{}, err
	}
	br, err := newBackupReader(r, key, progress)
	if err != nil {
		return backupHeader{}, err
	}
	h := br.header
	if h.Content != content {
		return h, fmt.Errorf("%w: this is a backup of %s, not of %s", ErrBackupCorrupt, h.Content, content)
	}
	if h.Authority != string(cfg.Authority) {
		return h, fmt.Errorf("%w: the backup belongs to authority %.10q, this node is %s", ErrWrongAuthority, h.Authority, cfg.Authority)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return h, err
	}
	db, err := badger.Open(opts)
	if err != nil {
		_ = clearDir(dir, existed)
		return h, fmt.Errorf("open %s: %w", dir, err)
	}
	err = db.Load(ctxReader{ctx, br}, 64)
	if err == nil && !br.done {
		err = fmt.Errorf("%w: the stream ends before its final chunk (truncated)", ErrBackupCorrupt)
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if cerr := clearDir(dir, existed); cerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the partial restore from %s: %w", dir, cerr))
		}
		return h, err
	}
	return h, nil
}

// Restore restores a backup made by Backup into cfg.DataDir, which must be
// empty or absent (ErrNotEmpty otherwise); the keys directory is the node's
// own. The whole stream must authenticate before the store is used: a
// tampered or truncated backup is refused and the partial restore removed.
// Then the store is opened without the rollback check, its audit log must
// match the checkpoint in the backup's header and verify in full, the
// erasure ledger in childkeys/ is applied (children erased since the backup
// was taken are erased again), so is the revocation ledger (users revoked
// since are revoked again, audited), the restore is audited, and the witness is
// rebased ("restored from backup taken <time>") so the rollback stays on
// record. The store is closed again; Open it as usual afterwards.
func Restore(ctx context.Context, cfg Config, r io.Reader, progress func(done int64)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.InMemory {
		return fmt.Errorf("restore: %w: cannot restore into an in-memory store", ErrInvalidConfig)
	}
	key, err := LoadStorageKey(storageKeyPath(cfg.KeysDir))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	log := cfg.logger().With("component", "storage", "authority", string(cfg.Authority))
	existed, err := emptyDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	h, err := loadBackup(ctx, r, key, cfg.dataOptions(key, log), cfg, backupContentDB, progress)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", cfg.DataDir, err)
	}
	cp := auditlog.Checkpoint{Origin: h.AuditOrigin, Size: h.AuditSize}
	copy(cp.Root[:], h.AuditRoot)
	reason := "restored from backup taken " + h.CreatedAt.UTC().Format(time.RFC3339)
	fail := func(err error) error {
		if cerr := clearDir(cfg.DataDir, existed); cerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the failed restore: %w", cerr))
		}
		return fmt.Errorf("restore into %s: %w", cfg.DataDir, err)
	}
	s, err := open(cfg, openMode{restoring: true, expect: &cp, rebaseNote: reason})
	if err != nil {
		return fail(err)
	}
	if _, err := s.VerifyAudit(nil); err != nil {
		return fail(errors.Join(err, s.Close()))
	}
	e := s.entry(backupAccess, v1.ActionBackupRestore, "data@"+strconv.FormatInt(cp.Size, 10))
	e.Reason = reason
	if err := s.record(ctx, e, true); err != nil {
		return fail(errors.Join(err, s.Close()))
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("restore into %s: %w", cfg.DataDir, err)
	}
	log.Warn("data restored from backup", "data_dir", cfg.DataDir, "backup_taken", h.CreatedAt, "audit_size", cp.Size)
	return nil
}

// checkRestoredLog checks that a restored audit log is the one the backup's
// header names.
func (s *Store) checkRestoredLog(want auditlog.Checkpoint) error {
	var got auditlog.Checkpoint
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		got, err = s.audit.Checkpoint(txn)
		return err
	})
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: the restored audit log (%d entries) does not match the backup's header (%d entries)", ErrBackupCorrupt, got.Size, want.Size)
	}
	return nil
}

// RestoreKeys restores a backup made by BackupKeys into keys/childkeys,
// which must be empty or absent; storage.key and authority.key must already
// be the node's own. If data/ holds a store, it is then opened once so that
// the erasure ledger found there is re-applied: keys of children erased
// after the key backup was taken are purged again. The restore is audited.
func RestoreKeys(ctx context.Context, cfg Config, r io.Reader, progress func(done int64)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.InMemory {
		return fmt.Errorf("restore keys: %w: cannot restore into an in-memory store", ErrInvalidConfig)
	}
	key, err := LoadStorageKey(storageKeyPath(cfg.KeysDir))
	if err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	log := cfg.logger().With("component", "storage", "authority", string(cfg.Authority))
	if _, err := loadBackup(ctx, r, key, cfg.childKeyOptions(key, log), cfg, backupContentKey, progress); err != nil {
		return fmt.Errorf("restore keys into %s: %w", childKeysPath(cfg.KeysDir), err)
	}
	if _, err := emptyDir(cfg.DataDir); err == nil {
		log.Warn("child keys restored; data directory is empty, so the erasure ledger will be applied when data is restored")
		return nil
	}
	s, err := Open(cfg)
	if err != nil {
		return fmt.Errorf("restore keys: keys restored, but the store does not open to apply the erasure ledger: %w", err)
	}
	e := s.entry(backupAccess, v1.ActionBackupRestore, "childkeys")
	err = s.record(ctx, e, true)
	return errors.Join(err, s.Close())
}
