package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// TestRevocationSurvivesRestore revokes users after backups were taken and
// restores the old backups: first the key backup (the ledger is rebuilt from
// data/), then the data backup (the revocations are re-applied from the
// ledger, audited). A revoked token never works again, and an ID the ledger
// names cannot be given to a new user.
func TestRevocationSurvivesRestore(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	ctx := context.Background()
	_, tokenA := mustCreateUser(t, s, "a.khan", "social_worker")
	_, tokenB := mustCreateUser(t, s, "b.jones", "auditor")

	backupDir := t.TempDir()
	dataBackup := writeBackup(t, backupDir, "data.bak", s.Backup)
	keyBackup := writeBackup(t, backupDir, "keys.bak", s.BackupKeys)

	// After the backups: c.wood is created and revoked, a.khan revoked.
	_, tokenC := mustCreateUser(t, s, "c.wood", "social_worker")
	revokedA, err := s.RevokeUser(ctx, "a.khan", admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeUser(ctx, "c.wood", admin); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a.khan", "c.wood"} {
		if ok, err := s.revocationRecorded(id); err != nil || !ok {
			t.Fatalf("revocation of %s in the key ledger: %v, %v", id, ok, err)
		}
	}
	if ok, _ := s.revocationRecorded("b.jones"); ok {
		t.Fatal("a live user is in the revocation ledger")
	}
	mustClose(t, s)

	check := func(t *testing.T, s *Store) {
		t.Helper()
		for _, tok := range []string{tokenA, tokenC} {
			if u, err := s.UserByToken(tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("a revoked token works again: %+v, %v", u, err)
			}
		}
		if u, err := s.UserByToken(tokenB); err != nil || u.ID != "b.jones" {
			t.Errorf("the live user's token: %+v, %v", u, err)
		}
		a, err := s.User("a.khan")
		if err != nil {
			t.Fatal(err)
		}
		if !a.Revoked() || !a.RevokedAt.Equal(*revokedA.RevokedAt) || a.RevokedBy != "admin" {
			t.Errorf("a.khan after restore = %+v, want revoked at %v by admin", a, revokedA.RevokedAt)
		}
		if _, _, err := s.CreateUser(ctx, User{ID: "c.wood", Name: "Someone else", Role: "auditor", Authority: testAuthority}, admin); !errors.Is(err, ErrExists) {
			t.Errorf("CreateUser with the ID of a revoked user: %v, want ErrExists", err)
		}
		mustVerify(t, s)
	}

	t.Run("restore key backup taken before the revocation", func(t *testing.T) {
		mustReplaceKeys(t, cfg, keyBackup)
		s := mustOpen(t, cfg)
		for _, id := range []string{"a.khan", "c.wood"} {
			if ok, err := s.revocationRecorded(id); err != nil || !ok {
				t.Errorf("after an old key restore, %s is not back in the ledger: %v, %v", id, ok, err)
			}
		}
		check(t, s)
	})

	t.Run("restore data backup taken before the revocation", func(t *testing.T) {
		restored := cfg
		restored.DataDir = filepath.Join(t.TempDir(), "data")
		mustRestore(t, restored, dataBackup)
		s := mustOpen(t, restored)
		check(t, s)
		if _, err := s.User("c.wood"); !errors.Is(err, ErrNotFound) {
			t.Errorf("c.wood, created after the backup: %v, want ErrNotFound", err)
		}
		entries, err := s.AuditEntries(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var reapplied []v1.AuditEntry
		for _, e := range entries {
			if e.Action == v1.ActionUserRevoke && e.Actor == "node" {
				reapplied = append(reapplied, e)
			}
		}
		if len(reapplied) != 1 || reapplied[0].Subject != "a.khan" || !strings.Contains(reapplied[0].Reason, "revoked at") ||
			!strings.Contains(reapplied[0].Reason, "by admin") || reapplied[0].Outcome != v1.AuditAllowed {
			t.Errorf("audit entries of the re-applied revocation = %+v, want one for a.khan", reapplied)
		}
		restoreAt := slices.IndexFunc(entries, func(e v1.AuditEntry) bool { return e.Action == v1.ActionBackupRestore })
		if restoreAt < 0 {
			t.Error("no backup.restore entry")
		}
		mustClose(t, s)

		// Opening again finds nothing to re-apply.
		s = mustOpen(t, restored)
		check(t, s)
		after, err := s.AuditEntries(int64(len(entries)), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range after {
			if e.Action == v1.ActionUserRevoke && e.Actor == "node" {
				t.Errorf("revocation re-applied twice: %+v", e)
			}
		}
	})
}

// TestRevokeInTheSameGroupAsCreation commits a user's creation and its
// revocation in one writer group, so RevokeUser's prepare cannot see the
// user: apply must record the revocation in the ledger itself.
func TestRevokeInTheSameGroupAsCreation(t *testing.T) {
	cfg := newMemNode(t)
	cfg.SyncInterval = time.Minute // the writer stays idle while the test commits the group
	s := mustOpen(t, cfg)
	hash := sha256.Sum256([]byte("token"))
	enc, err := schemas.Marshal(userRecord{ID: "d.nolan", Name: "Test", Role: "auditor", Authority: testAuthority,
		CreatedAt: fixed.UnixNano(), CreatedBy: "admin", TokenHash: hash[:]})
	if err != nil {
		t.Fatal(err)
	}
	var out userRecord
	create := s.createUserRequest("d.nolan", enc, hash[:], admin)
	revoke := s.revokeRequest("d.nolan", admin, &out)
	create.reply, revoke.reply = make(chan error, 1), make(chan error, 1)
	s.commitBatch([]*request{create, revoke})
	if err := errors.Join(<-create.reply, <-revoke.reply); err != nil {
		t.Fatal(err)
	}
	if out.RevokedAt == 0 {
		t.Fatal("the user was not revoked")
	}
	if ok, err := s.revocationRecorded("d.nolan"); err != nil || !ok {
		t.Fatalf("revocation not in the key ledger: %v, %v", ok, err)
	}
	if u, err := s.User("d.nolan"); err != nil || !u.Revoked() {
		t.Fatalf("User = %+v, %v", u, err)
	}
}

// TestInterruptedRevocationCompletedAtOpen: a revocation that reached the
// ledger but not data/ (the node stopped between the two) is completed by
// the next Open, and audited.
func TestInterruptedRevocationCompletedAtOpen(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	_, token := mustCreateUser(t, s, "e.ross", "social_worker")
	// What RevokeUser's prepare writes before the data transaction.
	if err := s.recordRevocation(revocationRecord{UserID: "e.ross", RevokedAt: fixed.UnixNano(), RevokedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	before := mustVerify(t, s)
	mustClose(t, s)

	s = mustOpen(t, cfg)
	if u, err := s.UserByToken(token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a user revoked in the ledger: %+v, %v", u, err)
	}
	u, err := s.User("e.ross")
	if err != nil || !u.Revoked() || !u.RevokedAt.Equal(fixed) || u.RevokedBy != "admin" {
		t.Fatalf("User = %+v, %v; want revoked at %v by admin", u, err, fixed)
	}
	es := auditFrom(t, s, before)
	if len(es) != 1 || es[0].Action != v1.ActionUserRevoke || es[0].Actor != "node" || es[0].Subject != "e.ross" {
		t.Errorf("completion audited as %+v", es)
	}
}

// FuzzRevocationEntry: decodeRevocation refuses what is not a revocation
// record with a valid user ID and time, and what it accepts round-trips.
func FuzzRevocationEntry(f *testing.F) {
	good, err := schemas.Marshal(revocationRecord{UserID: "a.khan", RevokedAt: fixed.UnixNano(), RevokedBy: "admin"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRevocation(data)
		if err != nil {
			return
		}
		if ValidateUserID(rec.UserID) != nil || rec.RevokedAt == 0 {
			t.Fatalf("accepted %+v", rec)
		}
		enc, err := schemas.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeRevocation(enc)
		if err != nil || again != rec {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, rec)
		}
	})
}
