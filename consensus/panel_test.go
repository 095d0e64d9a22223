package consensus

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A follower's Propose is forwarded to the leader; every member applies it;
// the FSM's answer and refusals come back to the proposer; CommandApplied
// answers by ID on every member.
func TestProposeThroughLeaderAndFollower(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3, sealed: true})
	leader := c.waitLeader()
	follower := c.follower(leader)

	id1, res := put(t, leader, "case-1", "rg-positive")
	if string(res.Response) != "ok:rg-positive" || res.Index == 0 {
		t.Fatalf("leader propose result %+v", res)
	}
	id2, res := put(t, follower, "case-2", "cg-negative")
	if string(res.Response) != "ok:cg-negative" {
		t.Fatalf("forwarded propose result %+v", res)
	}
	_, err := follower.panel.Propose(ctxT(t, 10*time.Second), encodeCmd(kvCommand{ID: newID(), Key: "case-3", Reject: true}))
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("refused command: %v, want ErrRejected", err)
	}
	for _, n := range c.nodes {
		for _, id := range []struct {
			id  string
			key string
		}{{string(id1), "case-1"}, {string(id2), "case-2"}} {
			_, ok, err := n.panel.CommandApplied(ctxT(t, 10*time.Second), v1ID(id.id))
			if err != nil || !ok {
				t.Fatalf("node %s: CommandApplied(%s) = %v, %v", n.id, id.key, ok, err)
			}
		}
		if err := n.panel.Sync(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if v, _ := n.fsm.get("case-2"); v != "cg-negative" {
			t.Fatalf("node %s reads %q after Sync", n.id, v)
		}
		if _, ok, err := n.panel.CommandApplied(ctxT(t, 10*time.Second), newID()); ok || err != nil {
			t.Fatalf("unknown command reported applied: %v %v", ok, err)
		}
	}
	if _, err := leader.panel.Propose(ctxT(t, time.Second), make([]byte, DefaultConfig().MaxCommandBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized command: %v", err)
	}
	st, err := leader.panel.Status(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != raft.Leader.String() || st.Leader != leader.id || len(st.Peers) != 2 {
		t.Fatalf("leader status %+v", st)
	}
	for _, ps := range st.Peers {
		if !ps.Reachable || ps.LastIndex == 0 {
			t.Fatalf("peer status %+v", ps)
		}
	}
	fst, err := follower.panel.Status(ctxT(t, 10*time.Second))
	if err != nil || fst.State != raft.Follower.String() || fst.Leader != leader.id || fst.Peers != nil {
		t.Fatalf("follower status %+v, %v", fst, err)
	}
	select {
	case <-follower.panel.Ready():
	default:
		t.Fatal("Ready not closed on a follower that knows its leader")
	}

	// Close is idempotent, and a closed panel refuses work.
	p := follower.panel
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Propose(ctxT(t, time.Second), encodeCmd(kvCommand{ID: newID(), Key: "k"})); !errors.Is(err, ErrClosed) {
		t.Fatalf("Propose on a closed panel: %v", err)
	}
	if err := p.Sync(ctxT(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync on a closed panel: %v", err)
	}
	if _, err := p.Status(ctxT(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Status on a closed panel: %v", err)
	}
	if n := p.layer.OpenStreams(); n != 0 {
		t.Fatalf("%d raft streams still open after Close", n)
	}
}

// The leader is killed: a new one is elected among the others and every
// command acknowledged before the kill is applied there; the old leader,
// restarted from its directory, catches up.
func TestLeaderKilledLosesNoAcknowledgedCommand(t *testing.T) {
	// The FSM keeps its state and applied index in Badger: the restarted
	// node replays only the log after its own applied index.
	c := newCluster(t, clusterOpts{voters: 5, tune: func(cfg *Config) { cfg.FSMPersistsState = true }})
	leader := c.waitLeader()
	var acked []string
	for i := range 20 {
		id, _ := put(t, c.nodes[i%5], "k", "v")
		acked = append(acked, string(id))
	}
	c.stop(leader)
	newLeader := c.waitLeader()
	if newLeader == leader {
		t.Fatal("the killed node is still leader")
	}
	for _, id := range acked {
		if _, ok, err := newLeader.panel.CommandApplied(ctxT(t, 10*time.Second), v1ID(id)); !ok || err != nil {
			t.Fatalf("acknowledged command %s lost after leader change: %v %v", id, ok, err)
		}
	}
	idAfter, _ := put(t, newLeader, "k", "after")
	c.start(leader, nil)
	if _, ok, err := leader.panel.CommandApplied(ctxT(t, 20*time.Second), idAfter); !ok || err != nil {
		t.Fatalf("restarted old leader did not catch up: %v %v", ok, err)
	}
	if v, _ := leader.fsm.get("k"); v != "after" {
		t.Fatalf("restarted node reads %q", v)
	}
}

// The leader is cut off from the other four: it never acknowledges a
// command, the majority elects a leader and commits, and after healing the
// minority's command is not applied anywhere.
func TestIsolatedLeaderNeverAcknowledges(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 5})
	old := c.waitLeader()
	put(t, old, "k", "before")
	c.net.Isolate(old.id)

	minorityID := newID()
	_, err := old.panel.Propose(ctxT(t, 3*time.Second), encodeCmd(kvCommand{ID: minorityID, Key: "k", Value: "minority"}))
	if err == nil {
		t.Fatal("an isolated leader acknowledged a command")
	}
	if !errors.Is(err, ErrAmbiguous) && !errors.Is(err, ErrNoLeader) {
		t.Fatalf("isolated leader's error %v is neither ambiguous nor no-leader", err)
	}
	var majority []*node
	for _, n := range c.nodes {
		if n != old {
			majority = append(majority, n)
		}
	}
	newLeader := c.waitLeader(majority...)
	put(t, majority[0], "k", "majority")
	if _, err := old.panel.Propose(ctxT(t, time.Second), encodeCmd(kvCommand{ID: newID(), Key: "k", Value: "x"})); err == nil {
		t.Fatal("the isolated node acknowledged a command after the majority moved on")
	}

	c.net.HealAll()
	c.waitLeader()
	for _, n := range c.nodes {
		_, ok, err := n.panel.CommandApplied(ctxT(t, 20*time.Second), minorityID)
		if err != nil || ok {
			t.Fatalf("node %s: minority command applied=%v err=%v", n.id, ok, err)
		}
		if v, _ := n.fsm.get("k"); v != "majority" {
			t.Fatalf("node %s reads %q, want the majority's value", n.id, v)
		}
	}
	_ = newLeader
}

// A follower stopped while the others commit and compact their logs comes
// back from its directory and catches up through a (sealed) snapshot.
func TestRestartedFollowerCatchesUpFromSnapshot(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3, sealed: true, tune: func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 8, 2
	}})
	leader := c.waitLeader()
	follower := c.follower(leader)
	put(t, follower, "before", "1")
	c.stop(follower)
	var last v1IDT
	for i := range 40 {
		last, _ = put(t, leader, "k", string(rune('a'+i%26)))
	}
	// Wait for the leader to snapshot and compact past the follower.
	deadline := time.Now().Add(20 * time.Second)
	for {
		first, _ := leader.panel.store.FirstIndex()
		if first > 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader did not compact its log (first index %d)", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.start(follower, nil)
	if _, ok, err := follower.panel.CommandApplied(ctxT(t, 30*time.Second), last); !ok || err != nil {
		t.Fatalf("restarted follower did not catch up: %v %v", ok, err)
	}
	if v, _ := follower.fsm.get("before"); v != "1" {
		t.Fatalf("state from before the stop lost: %q", v)
	}
	metas, err := follower.panel.snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("follower holds no snapshot after catching up: %v", err)
	}
}

// A node started with Join is added (non-voter, then voter once caught up),
// and a member is removed; the group keeps committing throughout.
func TestAddAndRemoveMember(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3})
	leader := c.waitLeader()
	for range 10 {
		put(t, leader, "k", "v")
	}
	joiner := &node{id: c.net.NewIdentity(), dir: tempDir(t), join: true}
	c.mu.Lock()
	c.members[joiner.id] = true
	c.mu.Unlock()
	c.nodes = append(c.nodes, joiner)
	c.start(joiner, nil)
	if err := c.follower(leader).panel.AddMember(ctxT(t, time.Second), Member{ID: joiner.id}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("AddMember on a follower: %v, want ErrNotLeader", err)
	}
	if err := leader.panel.AddMember(ctxT(t, 30*time.Second), Member{ID: joiner.id}); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	members, err := leader.panel.Members(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !hasMember(members, Member{ID: joiner.id}) || len(members) != 4 {
		t.Fatalf("members after add: %+v", members)
	}
	id, _ := put(t, joiner, "k", "from-joiner")
	if _, ok, err := leader.panel.CommandApplied(ctxT(t, 10*time.Second), id); !ok || err != nil {
		t.Fatalf("joiner's command: %v %v", ok, err)
	}

	victim := c.follower(leader)
	if victim == joiner {
		victim = c.nodes[0]
		if victim == leader {
			victim = c.nodes[1]
		}
	}
	if err := leader.panel.RemoveMember(ctxT(t, 10*time.Second), victim.id); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	members, err = leader.panel.Members(ctxT(t, 10*time.Second))
	if err != nil || len(members) != 3 || hasMember(members, Member{ID: victim.id}) {
		t.Fatalf("members after remove: %+v %v", members, err)
	}
	c.stop(victim)
	put(t, leader, "k", "after-remove")
}

func hasMember(ms []Member, m Member) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// Islington + Camden + witness: with either authority down the other and
// the witness keep deciding; the witness holds the log only as ciphertext
// and cannot propose.
func TestWitnessPanelSurvivesEitherAuthority(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3, witness: true})
	islington, camden, witness := c.nodes[0], c.nodes[1], c.nodes[2]
	c.waitLeader()
	const canary = "CANARY-Zhanar-Oyelaran-2011-04-09"

	if _, err := witness.panel.Propose(ctxT(t, time.Second), encodeCmd(kvCommand{ID: newID(), Key: "k", Value: "w"})); !errors.Is(err, ErrWitness) {
		t.Fatalf("witness Propose: %v, want ErrWitness", err)
	}
	put(t, islington, "case-1", canary)

	for _, down := range []*node{islington, camden} {
		up := camden
		if down == camden {
			up = islington
		}
		c.stop(down)
		c.waitLeader(up, witness)
		id, res := put(t, up, "case-1", canary+"-"+string(down.id)[len(down.id)-4:])
		if res.Index == 0 {
			t.Fatal("no index")
		}
		if _, ok, err := up.panel.CommandApplied(ctxT(t, 10*time.Second), id); !ok || err != nil {
			t.Fatalf("with %s down: %v %v", down.id, ok, err)
		}
		c.start(down, nil)
		if _, ok, err := down.panel.CommandApplied(ctxT(t, 20*time.Second), id); !ok || err != nil {
			t.Fatalf("restarted authority did not catch up: %v %v", ok, err)
		}
	}

	idx, entries := witness.panel.cfg.FSM, uint64(0)
	_ = idx
	wf := witness.panel.fsm.(*WitnessFSM)
	if _, entries = wf.Seen(); entries == 0 {
		t.Fatal("witness applied no entries")
	}
	// Every command in the witness's log is sealed: the canary is nowhere.
	first, _ := witness.panel.store.FirstIndex()
	last, _ := witness.panel.store.LastIndex()
	commands := 0
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := witness.panel.store.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(l.Data, []byte("CANARY")) || bytes.Contains(l.Data, []byte("case-1")) {
			t.Fatalf("witness log entry %d is readable", i)
		}
		if l.Type == raft.LogCommand {
			commands++
		}
	}
	if commands < 3 {
		t.Fatalf("witness log holds %d commands, want at least 3", commands)
	}
	if _, _, err := witness.panel.CommandApplied(ctxT(t, time.Second), newID()); !errors.Is(err, ErrWitness) {
		t.Fatalf("witness CommandApplied: %v", err)
	}
}

// A panel that lost two of three members for good regains a working group
// on the survivor with Recover, keeping its state.
func TestRecoverAfterLostQuorum(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3, sealed: true})
	leader := c.waitLeader()
	id, _ := put(t, leader, "case-9", "kept")
	survivor := c.nodes[0]
	for _, n := range c.nodes[1:] {
		c.stop(n)
	}
	if _, err := survivor.panel.Propose(ctxT(t, 2*time.Second), encodeCmd(kvCommand{ID: newID(), Key: "k", Value: "v"})); err == nil {
		t.Fatal("a node without quorum acknowledged a command")
	}
	cfg := c.config(survivor, nil)
	c.stop(survivor)
	c.net.Start(survivor.id)
	survivor.fsm = openKV(t, survivor.dir+"/fsm")
	cfg.FSM = survivor.fsm
	if err := Recover(cfg, []Member{{ID: c.nodes[1].id}}); !errors.Is(err, ErrBadPeersFile) {
		t.Fatalf("Recover without this node: %v, want ErrBadPeersFile", err)
	}
	if err := Recover(cfg, []Member{{ID: survivor.id}}); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	survivor.fsm.close()
	survivor.fsm = nil
	c.net.Stop(survivor.id)
	c.start(survivor, nil)
	c.waitLeader(survivor)
	if _, ok, err := survivor.panel.CommandApplied(ctxT(t, 10*time.Second), id); !ok || err != nil {
		t.Fatalf("state lost in recovery: %v %v", ok, err)
	}
	put(t, survivor, "k", "after-recover")
}
