package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// TestPeerCheckpointSurvivesReopen: the checkpoint verified for a member is
// there after a restart, a later one replaces it, and values that cannot be
// a checkpoint are refused unwritten.
func TestPeerCheckpointSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	if _, _, _, found, err := s.PeerCheckpoint("ISL"); err != nil || found {
		t.Fatalf("PeerCheckpoint of a member never verified = found %v, %v; want none", found, err)
	}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	root := bytes.Repeat([]byte{0xab}, 32)
	if err := s.PutPeerCheckpoint(ctx, "ISL", 10, root, at, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		code string
		size int64
		root []byte
	}{
		{"unknown authority", "XXX", 10, root},
		{"empty log", "ISL", 0, root},
		{"short root", "ISL", 11, root[:31]},
	} {
		err := s.PutPeerCheckpoint(ctx, v1.AuthorityCode(bad.code), bad.size, bad.root, at, nil)
		if !errors.Is(err, schemas.ErrInvalid) {
			t.Errorf("%s: PutPeerCheckpoint = %v; want ErrInvalid", bad.name, err)
		}
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	size, got, when, found, err := s.PeerCheckpoint("ISL")
	if err != nil || !found || size != 10 || !bytes.Equal(got, root) || !when.Equal(at) {
		t.Fatalf("after reopen PeerCheckpoint = %d %x %v found %v, %v; want 10 %x %v", size, got, when, found, err, root, at)
	}
	root2 := bytes.Repeat([]byte{0xcd}, 32)
	if err := s.PutPeerCheckpoint(ctx, "ISL", 12, root2, at.Add(time.Minute), []byte("signed heartbeat")); err != nil {
		t.Fatal(err)
	}
	if hb, err := s.PeerCheckpointHeartbeat("ISL"); err != nil || string(hb) != "signed heartbeat" {
		t.Errorf("the heartbeat kept with the checkpoint: %q, %v", hb, err)
	}
	if err := s.PutPeerCheckpoint(ctx, "ISL", 12, root2, at, make([]byte, MaxEvidenceHeartbeat+1)); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("an oversize heartbeat: %v; want ErrInvalid", err)
	}
	if size, got, _, _, err := s.PeerCheckpoint("ISL"); err != nil || size != 12 || !bytes.Equal(got, root2) {
		t.Errorf("after a second put PeerCheckpoint = %d %x, %v; want 12 %x", size, got, err, root2)
	}
	if _, _, _, found, _ := s.PeerCheckpoint("CMD"); found {
		t.Error("another member has a checkpoint it was never given")
	}

	// Forgetting one member's checkpoint leaves the others, survives a
	// reopen, and is idempotent; an unknown authority is refused.
	if err := s.PutPeerCheckpoint(ctx, "CMD", 5, root, at, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.DeletePeerCheckpoint(ctx, "ISL"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeletePeerCheckpoint(ctx, "XXX"); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("DeletePeerCheckpoint of an unknown authority = %v; want ErrInvalid", err)
	}
	mustClose(t, s)
	s = mustOpen(t, cfg)
	if _, _, _, found, err := s.PeerCheckpoint("ISL"); err != nil || found {
		t.Errorf("a forgotten checkpoint after reopen: found %v, %v", found, err)
	}
	if size, _, _, found, err := s.PeerCheckpoint("CMD"); err != nil || !found || size != 5 {
		t.Errorf("another member's checkpoint after a delete: %d found %v, %v", size, found, err)
	}
}

func TestAuditSize(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	before, err := s.AuditSize()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(context.Background(), &v1.AuditEntry{At: time.Now().UTC(), Actor: "x", Action: v1.ActionShareSend, Outcome: v1.AuditAllowed}); err != nil {
		t.Fatal(err)
	}
	cp, err := s.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.AuditSize(); err != nil || n != before+1 || n != cp.Size {
		t.Errorf("AuditSize = %d, %v; want %d, the checkpoint's size", n, err, before+1)
	}
}

// TestConflictEvidence: conflicts are kept with both heartbeats, listed
// newest first, at most MaxConflictEvidence per member (the oldest go), and
// survive a reopen; a record that cannot be one is refused.
func TestConflictEvidence(t *testing.T) {
	ctx := context.Background()
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for i := range MaxConflictEvidence + 3 {
		e := ConflictEvidence{Authority: "CMD", At: at.Add(time.Duration(i) * time.Minute), Reason: "smaller than before",
			PreviousSize: 10, GotSize: int64(i), Reference: []byte("ref"), Heartbeat: []byte(fmt.Sprintf("hb %d", i))}
		if err := s.PutConflictEvidence(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutConflictEvidence(ctx, ConflictEvidence{Authority: "HCK", At: at, Reason: "same size, different root", Heartbeat: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []ConflictEvidence{
		{Authority: "XXX", At: at, Reason: "r"},
		{Authority: "CMD", At: at},
		{Authority: "CMD", At: at, Reason: "r", Heartbeat: make([]byte, MaxEvidenceHeartbeat+1)},
	} {
		if err := s.PutConflictEvidence(ctx, bad); !errors.Is(err, schemas.ErrInvalid) {
			t.Errorf("%+v: %v; want ErrInvalid", bad.Authority, err)
		}
	}
	mustClose(t, s)
	s = mustOpen(t, cfg)
	got, err := s.ConflictEvidenceList()
	if err != nil {
		t.Fatal(err)
	}
	cmd := 0
	for _, e := range got {
		if e.Authority == "CMD" {
			cmd++
		}
	}
	if cmd != MaxConflictEvidence || len(got) != MaxConflictEvidence+1 {
		t.Fatalf("kept %d for CMD, %d in all; want %d and %d", cmd, len(got), MaxConflictEvidence, MaxConflictEvidence+1)
	}
	last := MaxConflictEvidence + 2
	if got[0].Authority != "CMD" || string(got[0].Heartbeat) != fmt.Sprintf("hb %d", last) || string(got[0].Reference) != "ref" ||
		got[0].GotSize != int64(last) || !got[0].At.Equal(at.Add(time.Duration(last)*time.Minute)) {
		t.Errorf("newest: %+v", got[0])
	}
	for _, e := range got {
		if e.Authority == "CMD" && e.GotSize < 3 {
			t.Errorf("an oldest record survived: %+v", e)
		}
	}
}
