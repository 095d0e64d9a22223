package storage

import (
	"context"
	"errors"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// A case received from another authority keeps its ID and revision; a newer
// provisional copy replaces the old one; a case this authority is
// responsible for is never replaced; an old transferred-out copy is.
func TestInstallRelocatedCase(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newMemNode(t))

	// A case from Camden, held provisionally (Camden still responsible).
	in := newCase(v1.NewID())
	in.ID = v1.NewCaseID("CMD")
	in.Responsible = "CMD"
	in.Revision = 7
	replaced, err := s.InstallRelocatedCase(ctx, in, worker)
	if err != nil || replaced {
		t.Fatalf("InstallRelocatedCase new: replaced %v, err %v", replaced, err)
	}
	if got := mustRead(t, s, in.ID); got.Revision != 7 || got.Responsible != "CMD" {
		t.Fatalf("installed case: revision %d responsible %s, want 7 CMD", got.Revision, got.Responsible)
	}
	if n := s.CaseCount(); n != 1 {
		t.Fatalf("CaseCount %d, want 1", n)
	}

	newer := nextRevision(in, v1.StateRGPending)
	if replaced, err := s.InstallRelocatedCase(ctx, newer, worker); err != nil || !replaced {
		t.Fatalf("InstallRelocatedCase newer: replaced %v, err %v", replaced, err)
	}
	if got := mustRead(t, s, in.ID); got.Revision != 8 {
		t.Fatalf("replaced case at revision %d, want 8", got.Revision)
	}
	if n := s.CaseCount(); n != 1 {
		t.Fatalf("CaseCount after replace %d, want 1", n)
	}

	// Activated: now this authority's; a further install is refused.
	active := nextRevision(newer, v1.StateRGPending)
	active.Responsible = testAuthority
	if err := s.UpdateCase(ctx, active, worker); err != nil {
		t.Fatalf("UpdateCase: %v", err)
	}
	stale := nextRevision(active, v1.StateRGPending)
	stale.Responsible = "CMD"
	if _, err := s.InstallRelocatedCase(ctx, stale, worker); !errors.Is(err, ErrConflict) {
		t.Fatalf("install over a responsible case: %v, want ErrConflict", err)
	}
	if got := mustRead(t, s, in.ID); got.Revision != active.Revision || got.Responsible != testAuthority {
		t.Fatalf("refused install changed the case: revision %d responsible %s", got.Revision, got.Responsible)
	}

	// Another child's case under the same ID is refused.
	other := *stale
	other.ChildID = v1.NewID()
	if _, err := s.InstallRelocatedCase(ctx, &other, worker); !errors.Is(err, ErrConflict) {
		t.Fatalf("install for another child: %v, want ErrConflict", err)
	}
	mustVerify(t, s)
}

// The transfer out keeps the sent copy, readable until forgotten; a stale
// sent copy is refused and nothing is written.
func TestTransferOutKeepsSentCopy(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newMemNode(t))
	c := newCase(v1.NewID())
	mustCreate(t, s, c)

	if _, err := s.RelocatedCopy(ctx, c.ID, worker); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RelocatedCopy before transfer: %v, want ErrNotFound", err)
	}
	out := nextRevision(c, v1.StateTransferredOut)
	stale := *c
	stale.Revision = 0
	if err := s.TransferOutCase(ctx, out, &stale, worker); err == nil {
		t.Fatal("TransferOutCase with a sent copy that does not precede it: no error")
	}
	if err := s.TransferOutCase(ctx, out, c, worker); err != nil {
		t.Fatalf("TransferOutCase: %v", err)
	}
	if got := mustRead(t, s, c.ID); got.State != v1.StateTransferredOut || got.Revision != 2 {
		t.Fatalf("after transfer out: %s revision %d", got.State, got.Revision)
	}
	sent, err := s.RelocatedCopy(ctx, c.ID, worker)
	if err != nil {
		t.Fatalf("RelocatedCopy: %v", err)
	}
	if sent.State != v1.StateRGPending || sent.Revision != 1 {
		t.Fatalf("sent copy: %s revision %d, want rg_pending revision 1", sent.State, sent.Revision)
	}
	// A second transfer out from the same copy is a conflict.
	again := nextRevision(out, v1.StateTransferredOut)
	if err := s.TransferOutCase(ctx, again, out, worker); err == nil {
		t.Fatal("TransferOutCase of a case already transferred out: no error")
	}
	if err := s.ForgetRelocatedCopy(ctx, c.ID); err != nil {
		t.Fatalf("ForgetRelocatedCopy: %v", err)
	}
	if _, err := s.RelocatedCopy(ctx, c.ID, worker); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RelocatedCopy after forget: %v, want ErrNotFound", err)
	}
	if err := s.ForgetRelocatedCopy(ctx, c.ID); err != nil {
		t.Fatalf("ForgetRelocatedCopy twice: %v", err)
	}
	mustVerify(t, s)
}
