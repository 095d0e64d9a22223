package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
)

// rawChildKeyVersions opens keys/childkeys directly with the storage key
// and counts the versions of the child's data key it still holds, live or
// deleted: after erasure even the holder of the storage key finds none.
func rawChildKeyVersions(t *testing.T, cfg Config, child v1.ID) int {
	t.Helper()
	key, err := LoadStorageKey(storageKeyPath(cfg.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(cfg.childKeyOptions(key, testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: childKeyKey(child), AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEraseChild(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	ctx := context.Background()
	erased, kept := v1.NewID(), v1.NewID()
	a1, a2, b1 := canaryCase(erased), canaryCase(erased), newCase(kept)
	for _, c := range []*v1.Case{a1, a2, b1} {
		mustCreate(t, s, c)
	}
	a2u := nextRevision(a2, v1.StateRGPositive)
	if err := s.UpdateCase(ctx, a2u, worker); err != nil {
		t.Fatal(err)
	}

	// Backups taken before the erasure.
	backupDir := t.TempDir()
	dataBackup := writeBackup(t, backupDir, "data.bak", s.Backup)
	keyBackup := writeBackup(t, backupDir, "keys.bak", s.BackupKeys)

	if err := s.EraseChild(ctx, erased, worker); err != nil {
		t.Fatal(err)
	}
	checkErased := func(t *testing.T, s *Store) {
		t.Helper()
		for _, c := range []*v1.Case{a1, a2} {
			if _, err := s.Case(ctx, c.ID, worker); !errors.Is(err, ErrErased) {
				t.Errorf("Case %s of the erased child: %v, want ErrErased", c.ID, err)
			}
		}
		if got := mustRead(t, s, b1.ID); got.ChildID != kept {
			t.Error("the other child's case changed")
		}
		list, err := s.ListCases(ctx, CaseQuery{}, worker)
		if err != nil {
			t.Fatal(err)
		}
		if ids := caseIDs(list); !slices.Equal(ids, []v1.CaseID{b1.ID}) {
			t.Errorf("ListCases after erasure = %v, want only %s", ids, b1.ID)
		}
		if n := s.CaseCount(); n != 1 {
			t.Errorf("CaseCount = %d, want 1", n)
		}
		mustVerify(t, s)
	}
	checkErased(t, s)
	if err := s.CreateCase(ctx, canaryCase(erased), worker); !errors.Is(err, ErrErased) {
		t.Errorf("CreateCase for an erased child: %v, want ErrErased", err)
	}
	if err := s.UpdateCase(ctx, nextRevision(a2u, v1.StateClosed), worker); !errors.Is(err, ErrErased) {
		t.Errorf("UpdateCase of an erased case: %v, want ErrErased", err)
	}
	if err := s.EraseChild(ctx, erased, worker); err != nil {
		t.Errorf("erasing again: %v", err)
	}
	entries, _ := s.AuditEntries(0, 1000)
	var erasures []string
	for _, e := range entries {
		if e.Action == v1.ActionCaseErase || e.Action == v1.ActionKeyErase {
			erasures = append(erasures, string(e.Action)+" "+e.Subject)
		}
	}
	want := []string{"case.erase " + string(a1.ID), "case.erase " + string(a2.ID), "key.erase " + string(erased), "key.erase " + string(erased)}
	slices.Sort(want[:2])
	slices.Sort(erasures[:min(2, len(erasures))])
	if !slices.Equal(erasures, want) {
		t.Errorf("erasure audit entries = %v, want %v", erasures, want)
	}
	mustClose(t, s)
	if n := rawChildKeyVersions(t, cfg, erased); n != 0 {
		t.Errorf("the child-keys database still holds %d versions of the erased child's key", n)
	}
	if n := rawChildKeyVersions(t, cfg, kept); n != 1 {
		t.Errorf("the other child's key: %d versions, want 1", n)
	}

	// The node's data directory and witness are shared by the subtests, in
	// order: the key restore, then the data restore that replaces data/.
	t.Run("restore key backup taken before the erasure", func(t *testing.T) {
		mustReplaceKeys(t, cfg, keyBackup)
		if n := rawChildKeyVersions(t, cfg, erased); n != 0 {
			t.Errorf("after restoring an old key backup the erased child's key is back (%d versions)", n)
		}
		s := mustOpen(t, cfg)
		checkErased(t, s)
	})

	t.Run("restore data backup taken before the erasure", func(t *testing.T) {
		restored := cfg
		restored.DataDir = filepath.Join(t.TempDir(), "data")
		mustRestore(t, restored, dataBackup)
		s := mustOpen(t, restored)
		checkErased(t, s)
		entries, _ := s.AuditEntries(0, 1000)
		if !slices.ContainsFunc(entries, func(e v1.AuditEntry) bool { return e.Action == v1.ActionBackupRestore }) {
			t.Errorf("no %s entry in the restored audit log", v1.ActionBackupRestore)
		}
	})

	scanForCanaries(t, filepath.Dir(cfg.DataDir))
	scanForCanaries(t, backupDir)
}

func writeBackup(t *testing.T, dir, name string, backup func(context.Context, io.Writer, func(int64)) (BackupInfo, error)) string {
	t.Helper()
	p := filepath.Join(dir, name)
	var buf bytes.Buffer
	if _, err := backup(context.Background(), &buf, nil); err != nil {
		t.Fatalf("backup %s: %v", name, err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustReplaceKeys sets the node's child-keys database aside (as if lost) and
// restores the key backup at path in its place.
func mustReplaceKeys(t *testing.T, cfg Config, path string) {
	t.Helper()
	if err := os.Rename(childKeysPath(cfg.KeysDir), childKeysPath(cfg.KeysDir)+".lost"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := RestoreKeys(context.Background(), cfg, f, nil); err != nil {
		t.Fatalf("RestoreKeys: %v", err)
	}
}

func mustRestore(t *testing.T, cfg Config, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Restore(context.Background(), cfg, f, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}
