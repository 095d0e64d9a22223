package consensus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus/transport/transporttest"
	v1 "nrmnet/schemas/v1"
)

// kvFSM is a real persistent FSM for the tests: every applied command is
// stored in Badger with the applied index in the same transaction, so a
// restart does not apply an entry twice, and command IDs can be looked up.
// Commands are JSON kvCommand; values are "registers" the linearizability
// check reads back.
type kvFSM struct {
	mu sync.Mutex
	db *badger.DB
}

type kvCommand struct {
	ID    v1.ID  `json:"id"`
	Key   string `json:"key"`
	Value string `json:"value"`
	// Reject makes the FSM refuse the command (an ErrRejected outcome).
	Reject bool `json:"reject,omitempty"`
}

var appliedKey = []byte("meta/applied")

func openKV(t testing.TB, dir string) *kvFSM {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true))
	if err != nil {
		t.Fatalf("open fsm badger: %v", err)
	}
	return &kvFSM{db: db}
}

func (f *kvFSM) close() { _ = f.db.Close() }

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func (f *kvFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cmd kvCommand
	decodeErr := json.Unmarshal(l.Data, &cmd)
	var resp any
	err := f.db.Update(func(txn *badger.Txn) error {
		if item, err := txn.Get(appliedKey); err == nil {
			v, _ := item.ValueCopy(nil)
			if u64(v) >= l.Index {
				return nil // already applied before a restart
			}
		}
		if err := txn.Set(appliedKey, be(l.Index)); err != nil {
			return err
		}
		switch {
		case decodeErr != nil:
			resp = fmt.Errorf("kvFSM: not a command: %v", decodeErr)
			return nil
		case cmd.Reject:
			resp = errors.New("kvFSM: command refused by the rules")
		default:
			if err := txn.Set([]byte("kv/"+cmd.Key), []byte(cmd.Value)); err != nil {
				return err
			}
			resp = []byte("ok:" + cmd.Value)
		}
		return txn.Set([]byte("cmd/"+string(cmd.ID)), be(l.Index))
	})
	if err != nil {
		panic(fmt.Sprintf("kvFSM: badger: %v", err)) // raft cannot go on without its state
	}
	return resp
}

func (f *kvFSM) CommandApplied(id v1.ID) (uint64, bool, error) {
	var idx uint64
	err := f.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("cmd/" + string(id)))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		idx = u64(v)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	return idx, err == nil, err
}

func (f *kvFSM) get(key string) (string, bool) {
	var val []byte
	err := f.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("kv/" + key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	return string(val), err == nil
}

func (f *kvFSM) AppliedIndex() uint64 {
	var idx uint64
	_ = f.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(appliedKey)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		idx = u64(v)
		return err
	})
	return idx
}

// Snapshot copies every key; Restore replaces the database with it.
func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := make(map[string][]byte)
	err := f.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			state[string(it.Item().KeyCopy(nil))] = v
		}
		return nil
	})
	return kvSnapshot(state), err
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var state map[string][]byte
	if err := json.NewDecoder(rc).Decode(&state); err != nil {
		return fmt.Errorf("kvFSM restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.db.DropAll(); err != nil {
		return err
	}
	wb := f.db.NewWriteBatch()
	for k, v := range state {
		if err := wb.Set([]byte(k), v); err != nil {
			return err
		}
	}
	return wb.Flush()
}

type kvSnapshot map[string][]byte

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string][]byte(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s kvSnapshot) Release() {}

func newID() v1.ID {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return v1.ID(fmt.Sprintf("%x", b))
}

func encodeCmd(c kvCommand) []byte {
	b, _ := json.Marshal(c)
	return b
}

// testLogger sends warnings and errors to t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// testTimeouts are short so that elections in tests take a fraction of a
// second on loopback; production uses DefaultTimeouts.
func testTimeouts() Timeouts {
	return Timeouts{
		Heartbeat:   300 * time.Millisecond,
		Election:    300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond,
		Commit:      5 * time.Millisecond,
		RPC:         2 * time.Second,
		Forward:     5 * time.Second,
	}
}

// node is one member of a test panel: a libp2p host identity, a directory,
// and, while running, a Panel and its FSM.
type node struct {
	id      peer.ID
	dir     string
	witness bool
	join    bool
	fsm     *kvFSM
	panel   *Panel
}

type cluster struct {
	t       testing.TB
	net     *transporttest.Network
	panelID v1.PanelID
	nodes   []*node
	key     []byte
	dataKey []byte
	tune    func(*Config)

	initial []Member // the members a node is configured with

	mu      sync.Mutex
	members map[peer.ID]bool // the "roster": who may talk panel traffic
}

type clusterOpts struct {
	voters   int
	witness  bool // the last voter is a witness
	sealed   bool // use a panel data key
	nonVoter int
	tune     func(*Config)
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{
		t:       t,
		net:     transporttest.NewNetwork(t),
		panelID: "islington-camden",
		key:     randKey(),
		tune:    o.tune,
		members: make(map[peer.ID]bool),
	}
	if o.sealed || o.witness {
		c.dataKey = randKey()
	}
	for i := range o.voters + o.nonVoter {
		n := &node{id: c.net.NewIdentity(), dir: filepath.Join(tempDir(t), fmt.Sprintf("node%d", i))}
		n.witness = o.witness && i == o.voters-1
		c.nodes = append(c.nodes, n)
		c.members[n.id] = true
	}
	var members []Member
	for i, n := range c.nodes {
		members = append(members, Member{ID: n.id, NonVoter: i >= o.voters})
	}
	c.initial = members
	for _, n := range c.nodes {
		c.start(n, members)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n)
		}
	})
	return c
}

func tempDir(t testing.TB) string { return t.TempDir() }

func randKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func (c *cluster) admit(p peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[p]
}

func (c *cluster) config(n *node, members []Member) Config {
	if members == nil {
		members = c.initial
	}
	cfg := DefaultConfig()
	cfg.Panel, cfg.Self, cfg.Members, cfg.Join = c.panelID, n.id, members, n.join
	cfg.Admit = c.admit
	cfg.Host = c.net.Host(n.id)
	cfg.Dir = filepath.Join(n.dir, "panel")
	cfg.EncryptionKey = c.key
	cfg.Witness = n.witness
	if !n.witness {
		cfg.DataKey = c.dataKey
		cfg.FSM = n.fsm
	}
	cfg.Timeouts = testTimeouts()
	cfg.SnapshotInterval = 200 * time.Millisecond
	cfg.Logger = testLogger(c.t).With("node", n.id.String()[len(n.id.String())-6:])
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// start (re)starts a node's host, FSM and Panel from its directory.
func (c *cluster) start(n *node, members []Member) {
	c.t.Helper()
	if c.net.Host(n.id) == nil {
		c.net.Start(n.id)
	}
	if !n.witness {
		n.fsm = openKV(c.t, filepath.Join(n.dir, "fsm"))
	}
	p, err := New(c.config(n, members))
	if err != nil {
		c.t.Fatalf("start panel: %v", err)
	}
	n.panel = p
}

// stop closes the node's Panel, FSM and host: a shutdown, or a crash as far
// as the others can tell.
func (c *cluster) stop(n *node) {
	if n.panel != nil {
		if err := n.panel.Close(); err != nil {
			c.t.Errorf("close panel: %v", err)
		}
		n.panel = nil
	}
	if n.fsm != nil {
		n.fsm.close()
		n.fsm = nil
	}
	c.net.Stop(n.id)
}

func (c *cluster) running() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.panel != nil {
			out = append(out, n)
		}
	}
	return out
}

// waitLeader waits until one of the given nodes is leader and all of them
// agree on it.
func (c *cluster) waitLeader(among ...*node) *node {
	c.t.Helper()
	if len(among) == 0 {
		among = c.running()
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var leader *node
		for _, n := range among {
			if n.panel.raft.State() == raft.Leader {
				leader = n
			}
		}
		if leader != nil {
			agree := true
			for _, n := range among {
				if n.panel.leader() != leader.id {
					agree = false
				}
			}
			if agree {
				return leader
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no agreed leader within 30s")
	return nil
}

func (c *cluster) follower(leader *node) *node {
	for _, n := range c.running() {
		if n != leader && !n.witness {
			return n
		}
	}
	c.t.Fatal("no running follower")
	return nil
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// put proposes key=value through n and requires success.
func put(t testing.TB, n *node, key, value string) (v1.ID, Result) {
	t.Helper()
	id := newID()
	res, err := n.panel.Propose(ctxT(t, 20*time.Second), encodeCmd(kvCommand{ID: id, Key: key, Value: value}))
	if err != nil {
		t.Fatalf("propose %s=%s: %v", key, value, err)
	}
	return id, res
}

type v1IDT = v1.ID

func v1ID(s string) v1.ID { return v1.ID(s) }

type peerIDT = peer.ID

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
