package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// memReferences is PeerCheckpoints in memory, holding one member's record.
type memReferences struct {
	size  int64
	root  []byte
	hb    []byte
	at    time.Time
	found bool
}

func (m *memReferences) PeerCheckpoint(v1.AuthorityCode) (int64, []byte, time.Time, bool, error) {
	return m.size, m.root, m.at, m.found, nil
}

func (m *memReferences) PutPeerCheckpoint(_ context.Context, _ v1.AuthorityCode, size int64, root []byte, at time.Time, hb []byte) error {
	m.size, m.root, m.at, m.hb, m.found = size, root, at, hb, true
	return nil
}

func (m *memReferences) PeerCheckpointHeartbeat(v1.AuthorityCode) ([]byte, error) { return m.hb, nil }

func (m *memReferences) DeletePeerCheckpoint(context.Context, v1.AuthorityCode) error {
	*m = memReferences{}
	return nil
}

// TestOldHeartbeatAfterRestartIsNotAConflict: a checker that restarts
// knows, from the heartbeat stored with the reference, when the member sent
// the checkpoint it verified; a heartbeat sent before that (an old one
// still in pubsub's history) is not compared, so it raises no false
// "smaller than before". A heartbeat sent after it with a smaller log does,
// with the stored heartbeat as the reference evidence.
func TestOldHeartbeatAfterRestartIsNotAConflict(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	heartbeat := func(size int64, root byte, sent time.Time) *Heartbeat {
		return &Heartbeat{Authority: "CMD", Region: "London", SentAt: sent, StartedAt: t0.Add(-time.Hour), Version: "test-1",
			Checkpoint: Checkpoint{Size: size, Root: bytes.Repeat([]byte{root}, 32)}, Signature: make([]byte, 64)}
	}
	stored, err := MarshalHeartbeat(heartbeat(6, 0xaa, t0))
	if err != nil {
		t.Fatal(err)
	}
	refs := &memReferences{size: 6, root: bytes.Repeat([]byte{0xaa}, 32), hb: stored, at: t0, found: true}
	m, err := newMetrics(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{log: slog.New(slog.DiscardHandler), now: func() time.Time { return t0.Add(time.Minute) }, ctx: context.Background(),
		metrics: m, conflict: make(chan CheckpointConflict, 4), me: "ISL"}
	pc := &proofChecker{s: s, cfg: ProofConfig{References: refs}, metrics: newAuditMetrics(), members: map[v1.AuthorityCode]*proofState{}}

	pc.check(heartbeat(5, 0xbb, t0.Add(-2*time.Second)))
	pc.check(heartbeat(6, 0xcc, t0)) // the same heartbeat time: not news either
	if len(s.conflict) != 0 || pc.members["CMD"].conflict {
		t.Fatalf("an old heartbeat raised a conflict: %d", len(s.conflict))
	}
	pc.check(heartbeat(5, 0xbb, t0.Add(2*time.Second)))
	if len(s.conflict) != 1 {
		t.Fatalf("a newer, smaller checkpoint raised %d conflicts; want 1", len(s.conflict))
	}
	c := <-s.conflict
	if c.Reason != ConflictShrunk || c.Previous.Size != 6 || c.Got.Size != 5 || !bytes.Equal(c.Reference, stored) {
		t.Errorf("conflict %+v", c)
	}
}
