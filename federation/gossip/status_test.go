package gossip_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"nrmnet/federation/gossip"
	v1 "nrmnet/schemas/v1"
)

// TestRegionViewAndCheckpointConflicts: five members exchange heartbeats;
// every member's view shows all five up with their reports; a member whose
// audit checkpoint forks (same size, new root) or shrinks raises an alarm at
// the others; a member that stops is shown down.
func TestRegionViewAndCheckpointConflicts(t *testing.T) {
	r := newRegion(t, 5)
	checkpoints := make([]atomic.Pointer[gossip.Checkpoint], len(r.members))
	var mu sync.Mutex
	var conflicts []gossip.CheckpointConflict
	for i, m := range r.members {
		checkpoints[i].Store(&gossip.Checkpoint{Size: 10, Root: bytes.Repeat([]byte{byte(i + 1)}, 32)})
		m.status = func() gossip.StatusReport {
			return gossip.StatusReport{
				Panels:     []gossip.PanelState{{Panel: "islington-camden", State: "Follower", Term: 3, AppliedIndex: 42}},
				Overdue:    []gossip.OverdueCount{{Clock: "reasonable_grounds", Count: uint32(i)}},
				Checkpoint: *checkpoints[i].Load(),
			}
		}
		if i == 0 {
			m.onConflict = func(c gossip.CheckpointConflict) {
				mu.Lock()
				conflicts = append(conflicts, c)
				mu.Unlock()
			}
		}
	}
	r.start()
	watcher := r.members[0]

	eventually(t, "every member's view shows all five up with their reports", func() bool {
		for _, m := range r.members {
			v := m.svc.RegionView()
			if v.Up() != 5 || len(v.Members) != 5 {
				return false
			}
			for _, ms := range v.Members {
				hb := ms.Heartbeat
				if hb == nil || hb.Version != "test-1" || hb.Peers != 4 || len(hb.Panels) != 1 || hb.Checkpoint.Size != 10 {
					return false
				}
			}
		}
		return true
	})
	v := watcher.svc.RegionView()
	for i, m := range r.members {
		ms, ok := v.Member(m.code)
		if !ok || ms.Heartbeat.Overdue[0].Count != uint32(i) || ms.Self != (i == 0) || ms.Heartbeat.Uptime() < 0 {
			t.Errorf("view of %s = %+v", m.code, ms)
		}
	}

	// Growth is consistent; a fork and a shrink are not.
	checkpoints[1].Store(&gossip.Checkpoint{Size: 12, Root: bytes.Repeat([]byte{0xaa}, 32)})
	eventually(t, "the watcher sees the grown checkpoint", func() bool {
		ms, _ := watcher.svc.RegionView().Member(r.members[1].code)
		return ms.Heartbeat.Checkpoint.Size == 12
	})
	checkpoints[1].Store(&gossip.Checkpoint{Size: 12, Root: bytes.Repeat([]byte{0xbb}, 32)})
	checkpoints[2].Store(&gossip.Checkpoint{Size: 9, Root: bytes.Repeat([]byte{0xcc}, 32)})
	eventually(t, "both conflicts raised", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(conflicts) >= 2
	})
	mu.Lock()
	got := map[v1.AuthorityCode]string{}
	for _, c := range conflicts {
		got[c.Authority] = c.Reason
		// Without proofs too, both heartbeats are kept as evidence.
		for _, m := range r.members[1:3] {
			if m.code == c.Authority {
				checkEvidence(t, c, m)
			}
		}
	}
	mu.Unlock()
	if got[r.members[1].code] != gossip.ConflictForked || got[r.members[2].code] != gossip.ConflictShrunk || len(got) != 2 {
		t.Errorf("conflicts = %v; want %s forked and %s shrunk", got, r.members[1].code, r.members[2].code)
	}
	if n := counter(t, watcher, "nrmnet_gossip_checkpoint_conflicts_total", nil); n < 2 {
		t.Errorf("checkpoint_conflicts_total = %v; want at least 2", n)
	}
	v = watcher.svc.RegionView()
	for i, m := range r.members {
		ms, _ := v.Member(m.code)
		if ms.CheckpointConflict != (i == 1 || i == 2) {
			t.Errorf("%s: CheckpointConflict = %v", m.code, ms.CheckpointConflict)
		}
	}

	// A stopped member goes down.
	down := r.members[4]
	down.stop()
	eventually(t, "the stopped member is shown down", func() bool {
		ms, _ := watcher.svc.RegionView().Member(down.code)
		return !ms.Up && !ms.LastSeen.IsZero()
	})
	if up := watcher.svc.RegionView().Up(); up != 4 {
		t.Errorf("%d members up; want 4", up)
	}
}
