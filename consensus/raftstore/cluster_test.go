package raftstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// counterFSM records every command in order. Its state is the list; a
// snapshot is the list, newline-separated.
type counterFSM struct {
	mu       sync.Mutex
	cmds     [][]byte
	restores int
}

func (f *counterFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, append([]byte(nil), l.Data...))
	return len(f.cmds)
}

func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &listSnapshot{data: bytes.Join(f.cmds, []byte("\n"))}, nil
}

func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	var cmds [][]byte
	if len(data) > 0 {
		cmds = bytes.Split(data, []byte("\n"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = cmds
	f.restores++
	return nil
}

// state returns the number of commands applied and a digest of all of them.
func (f *counterFSM) state() (int, [32]byte, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cmds), sha256.Sum256(bytes.Join(f.cmds, []byte("\n"))), f.restores
}

type listSnapshot struct{ data []byte }

func (s *listSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *listSnapshot) Release() {}

// panelNode is one member of the test panel: raft on its own encrypted,
// on-disk log store and snapshot store.
type panelNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	dir   string
	store *Store
	snaps *SnapshotStore
	trans *raft.InmemTransport
	fsm   *counterFSM
	raft  *raft.Raft
}

type testPanel struct {
	t      *testing.T
	nodes  []*panelNode
	logger *slog.Logger
}

func newTestPanel(t *testing.T, n int) *testPanel {
	p := &testPanel{t: t, logger: testLogger(t, slog.LevelWarn)}
	root := t.TempDir()
	var servers []raft.Server
	for i := range n {
		id := fmt.Sprintf("la-%d", i+1)
		node := &panelNode{id: raft.ServerID(id), addr: raft.ServerAddress(id), dir: filepath.Join(root, id)}
		p.nodes = append(p.nodes, node)
		servers = append(servers, raft.Server{ID: node.id, Address: node.addr, Suffrage: raft.Voter})
	}
	for _, node := range p.nodes {
		p.start(node, &raft.Configuration{Servers: servers})
	}
	t.Cleanup(func() {
		for _, node := range p.nodes {
			if node.raft != nil {
				p.stop(node)
			}
		}
	})
	return p
}

func (p *testPanel) raftConfig(id raft.ServerID) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	// Generous: on a loaded 2-core machine one fsync has been seen to take
	// 400 ms, and a leader that hears from no quorum for a lease steps down.
	conf.HeartbeatTimeout = 2 * time.Second
	conf.ElectionTimeout = 2 * time.Second
	conf.LeaderLeaseTimeout = 2 * time.Second
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 30 // snapshots only when the test asks
	conf.SnapshotInterval = time.Hour
	conf.TrailingLogs = 50 // so that a follower that missed more needs a snapshot
	conf.Logger = HCLogger(p.logger.With("node", string(id)))
	return conf
}

// start opens the node's stores, wires its transport to the running nodes and
// starts raft. With a bootstrap configuration it first bootstraps the node.
func (p *testPanel) start(n *panelNode, bootstrap *raft.Configuration) {
	t := p.t
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(n.dir, "log")
	cfg.EncryptionKey = testKey()
	cfg.Logger = p.logger
	var err error
	if n.store, err = Open(cfg); err != nil {
		t.Fatalf("%s: open store: %v", n.id, err)
	}
	if n.snaps, err = NewSnapshotStore(n.dir, 2, testKey(), p.logger); err != nil {
		t.Fatalf("%s: snapshot store: %v", n.id, err)
	}
	_, n.trans = raft.NewInmemTransport(n.addr)
	for _, other := range p.nodes {
		if other != n && other.raft != nil {
			n.trans.Connect(other.addr, other.trans)
			other.trans.Connect(n.addr, n.trans)
		}
	}
	conf := p.raftConfig(n.id)
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, n.store, n.store, n.snaps, n.trans, *bootstrap); err != nil {
			t.Fatalf("%s: bootstrap: %v", n.id, err)
		}
	}
	n.fsm = &counterFSM{}
	if n.raft, err = raft.NewRaft(conf, n.fsm, n.store, n.store, n.snaps, n.trans); err != nil {
		t.Fatalf("%s: NewRaft: %v", n.id, err)
	}
}

// stop shuts raft down, cuts the node off and closes its store: a process
// exit, with everything the node acknowledged already on disk.
func (p *testPanel) stop(n *panelNode) {
	t := p.t
	t.Helper()
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Errorf("%s: shutdown: %v", n.id, err)
	}
	n.raft = nil
	for _, other := range p.nodes {
		if other != n && other.trans != nil {
			other.trans.Disconnect(n.addr)
		}
	}
	if err := n.store.Close(); err != nil {
		t.Errorf("%s: close store: %v", n.id, err)
	}
}

func (p *testPanel) leader() *panelNode {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range p.nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatal("no leader within 20s")
	return nil
}

// apply submits commands [from, to) through the leader, pipelined, and waits
// for every one to be committed and applied on the leader.
func (p *testPanel) apply(from, to int) {
	p.t.Helper()
	leader := p.leader()
	futures := make([]raft.ApplyFuture, 0, to-from)
	for i := from; i < to; i++ {
		futures = append(futures, leader.raft.Apply([]byte(fmt.Sprintf("decision-%05d", i)), 10*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			p.t.Fatalf("apply %d: %v", from+i, err)
		}
	}
}

// waitSame waits until every running node's FSM holds want commands, then
// checks they hold the same ones.
func (p *testPanel) waitSame(want int) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := true
		for _, n := range p.nodes {
			if got, _, _ := n.fsm.state(); got != want {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for _, n := range p.nodes {
				got, _, _ := n.fsm.state()
				p.t.Logf("%s: %d commands", n.id, got)
			}
			p.t.Fatalf("FSMs did not all reach %d commands within 30s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, want0, _ := p.nodes[0].fsm.state()
	for _, n := range p.nodes[1:] {
		if _, got, _ := n.fsm.state(); got != want0 {
			p.t.Fatalf("%s's FSM differs from %s's", n.id, p.nodes[0].id)
		}
	}
}

// checkLogsAgree compares every index all the stores hold. A log may have a
// gap (entries kept from before an installed snapshot, then the entries after
// it), so missing entries are skipped; the stores' common tail must compare.
func (p *testPanel) checkLogsAgree() {
	p.t.Helper()
	lo, hi := uint64(0), ^uint64(0)
	for _, n := range p.nodes {
		f, _ := n.store.FirstIndex()
		l, _ := n.store.LastIndex()
		lo, hi = max(lo, f), min(hi, l)
	}
	compared := 0
	for i := lo; i <= hi && lo > 0; i++ {
		var logs []raft.Log
		for _, n := range p.nodes {
			var l raft.Log
			err := n.store.GetLog(i, &l)
			if errors.Is(err, raft.ErrLogNotFound) {
				break
			}
			if err != nil {
				p.t.Fatalf("%s: GetLog(%d): %v", n.id, i, err)
			}
			logs = append(logs, l)
		}
		if len(logs) < len(p.nodes) {
			continue
		}
		for j, l := range logs[1:] {
			if l.Term != logs[0].Term || l.Type != logs[0].Type || !bytes.Equal(l.Data, logs[0].Data) {
				p.t.Fatalf("index %d differs between %s and %s", i, p.nodes[0].id, p.nodes[j+1].id)
			}
		}
		compared++
	}
	if compared == 0 {
		p.t.Fatalf("the stores have no entry in common in [%d, %d]", lo, hi)
	}
	p.t.Logf("%d log entries identical on all %d stores", compared, len(p.nodes))
}

// TestRaftCluster runs a three-member panel in one process on raft's
// in-memory transport, with this package's stores on disk, through a
// follower crash and catch-up by snapshot, and a full restart from snapshots.
func TestRaftCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node raft cluster")
	}
	p := newTestPanel(t, 3)

	p.apply(0, 500)
	p.waitSame(500)

	// Stop a follower; the other two carry on.
	leader := p.leader()
	var follower *panelNode
	for _, n := range p.nodes {
		if n != leader {
			follower = n
			break
		}
	}
	p.stop(follower)
	p.apply(500, 1000)

	// Snapshot the leader: its log is compacted to TrailingLogs, so the
	// follower, 500 entries behind, can only catch up from the snapshot.
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	if first, _ := leader.store.FirstIndex(); first <= 500 {
		t.Fatalf("leader's log still starts at %d after compaction", first)
	}

	p.start(follower, nil)
	p.waitSame(1000)
	if _, _, restores := follower.fsm.state(); restores == 0 {
		t.Fatal("the restarted follower caught up without installing the snapshot")
	}

	// Snapshot every member, then restart the whole panel: each FSM must come
	// back from its own (encrypted) snapshot before any log is replayed.
	for _, n := range p.nodes {
		if err := n.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			t.Fatalf("%s: snapshot: %v", n.id, err)
		}
	}
	for _, n := range p.nodes {
		p.stop(n)
	}
	for _, n := range p.nodes {
		p.start(n, nil)
		if got, _, restores := n.fsm.state(); restores != 1 || got != 1000 {
			t.Fatalf("%s after restart: %d commands from %d restores, want 1000 from 1", n.id, got, restores)
		}
	}
	p.apply(1000, 1010)
	p.waitSame(1010)
	p.checkLogsAgree()
}
