package panel

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// member is one panel member under hashicorp/raft with its in-memory
// transport and stores: a unit-level test of the FSM inside real Raft.
type member struct {
	h     *harness
	raft  *raft.Raft
	addr  raft.ServerAddress
	trans *raft.InmemTransport
}

func startMember(t *testing.T, name string, logs hclog.Logger, bootstrap []raft.Server) *member {
	t.Helper()
	m := &member{h: newHarness(t, memConfig(t))}
	m.addr, m.trans = raft.NewInmemTransport(raft.ServerAddress(name))
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(name)
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 20 // snapshots are taken by the test
	conf.TrailingLogs = 2            // so a late member must be sent a snapshot
	conf.Logger = logs.Named(name)
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, store, store, snaps, m.trans, raft.Configuration{Servers: bootstrap}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := raft.NewRaft(conf, m.h.fsm, store, store, snaps, m.trans)
	if err != nil {
		t.Fatal(err)
	}
	m.raft = r
	t.Cleanup(func() {
		if err := r.Shutdown().Error(); err != nil {
			t.Errorf("shutdown %s: %v", name, err)
		}
	})
	return m
}

func connect(ms ...*member) {
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func leaderOf(t *testing.T, ms []*member) *member {
	t.Helper()
	var leader *member
	waitFor(t, "a leader", func() bool {
		for _, m := range ms {
			if m.raft.State() == raft.Leader {
				leader = m
				return true
			}
		}
		return false
	})
	return leader
}

func hclogFor(t *testing.T) hclog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Warn})
}

// Three members apply a case's whole life through Raft and reach identical
// state; a fourth member added after the log was compacted receives a
// snapshot (Restore) and reaches the same state.
func TestMembersUnderRaftReachIdenticalState(t *testing.T) {
	logs := hclogFor(t)
	names := []string{"isl", "cmd", "met"}
	var servers []raft.Server
	for _, n := range names {
		servers = append(servers, raft.Server{ID: raft.ServerID(n), Address: raft.ServerAddress(n)})
	}
	var ms []*member
	for _, n := range names {
		ms = append(ms, startMember(t, n, logs, servers))
	}
	connect(ms...)

	// The verdicts expected, from one state machine outside Raft.
	log := encodeAll(t, scenario(newFixture()))
	reference := newHarness(t, memConfig(t))
	var want []Result
	for _, e := range log {
		want = append(want, reference.applyBytes(e))
	}

	apply := func(i int, e []byte) Result {
		t.Helper()
		leader := leaderOf(t, ms)
		fut := leader.raft.Apply(e, 5*time.Second)
		if err := fut.Error(); err != nil {
			t.Fatalf("entry %d: apply: %v", i, err)
		}
		return fut.Response().(Result)
	}
	half := len(log) / 2
	for i, e := range log[:half] {
		if got := apply(i, e); got.Code != want[i].Code || got.Command != want[i].Command {
			t.Fatalf("entry %d: %s, want %s", i, got.Code, want[i].Code)
		}
	}
	snapshotAll(t, ms)
	for i, e := range log[half:] {
		i += half
		if got := apply(i, e); got.Code != want[i].Code || got.Command != want[i].Command {
			t.Fatalf("entry %d: %s, want %s", i, got.Code, want[i].Code)
		}
	}
	// A retry through Raft of a committed command is answered from its ID.
	if dup := apply(3, log[3]); !dup.Duplicate || dup.Code != want[3].Code || dup.Index == 0 {
		t.Fatalf("retried command: %+v", dup)
	}
	snapshotAll(t, ms)

	late := startMember(t, "nyk", logs, nil)
	connect(append(ms, late)...)
	leader := leaderOf(t, ms)
	if err := leader.raft.AddVoter("nyk", late.addr, 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("add voter: %v", err)
	}
	all := append(ms, late)
	converge(t, all)
	first := snapshotBytes(t, ms[0].h.fsm)
	for i, m := range all {
		if got := snapshotBytes(t, m.h.fsm); !bytes.Equal(got, first) {
			t.Fatalf("member %d's state differs from member 0's", i)
		}
	}
	// Log indexes differ under Raft (configuration entries), so compare the
	// case itself, less the indexes.
	underRaft, err := ms[0].h.fsm.Case(testCase)
	if err != nil {
		t.Fatal(err)
	}
	direct := reference.caseState()
	for i := range underRaft.Decisions {
		underRaft.Decisions[i].Index, direct.Decisions[i].Index = 0, 0
	}
	if !reflect.DeepEqual(underRaft, direct) {
		t.Fatalf("the case under Raft differs from the case applied directly:\n%+v\n%+v", underRaft, direct)
	}
	// The late member learnt the decisions from a snapshot, so its observer
	// was not called for them: DecisionsSince is how the node catches up.
	if n := len(late.h.concluded); n != 0 {
		t.Fatalf("late member's observer saw %d decisions; it should have restored them from a snapshot", n)
	}
	got, err := late.h.fsm.DecisionsSince(0)
	if err != nil || len(got) != 2 {
		t.Fatalf("late member DecisionsSince(0) = %d, %v", len(got), err)
	}
	for _, m := range ms {
		if len(m.h.concluded) != 2 {
			t.Fatalf("a founding member's observer saw %d decisions, want 2", len(m.h.concluded))
		}
	}

}

// converge waits until every member has applied what the leader has.
func converge(t *testing.T, ms []*member) {
	t.Helper()
	target := leaderOf(t, ms).h.fsm.AppliedIndex()
	waitFor(t, "every member to apply the log", func() bool {
		for _, m := range ms {
			if m.h.fsm.AppliedIndex() != target {
				return false
			}
		}
		return true
	})
}

// snapshotAll has every member take a snapshot once it has caught up.
func snapshotAll(t *testing.T, ms []*member) {
	t.Helper()
	converge(t, ms)
	for _, m := range ms {
		if err := m.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			t.Fatalf("snapshot: %v", err)
		}
	}
}
