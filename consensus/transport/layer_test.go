package transport_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus/raftstore"
	"nrmnet/consensus/transport"
	"nrmnet/consensus/transport/transporttest"
	v1 "nrmnet/schemas/v1"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func members(ids ...peer.ID) func(peer.ID) bool {
	set := make(map[peer.ID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(p peer.ID) bool { return set[p] }
}

func newLayer(t *testing.T, panel v1.PanelID, h host.Host, admit func(peer.ID) bool) *transport.StreamLayer {
	t.Helper()
	cfg := transport.DefaultConfig()
	cfg.Panel, cfg.Host, cfg.Admit, cfg.Logger = panel, h, admit, testLogger(t)
	l, err := transport.NewStreamLayer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	err := transport.Config{Panel: "Not A Panel!"}.Validate()
	if !errors.Is(err, transport.ErrInvalidConfig) {
		t.Fatalf("got %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"panel", "host is required", "admit is required", "max_pool", "timeout", "accept_backlog"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := transport.NewStreamLayer(transport.Config{}); !errors.Is(err, transport.ErrInvalidConfig) {
		t.Fatalf("constructor accepted an invalid config: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestProtocolIDIsPerPanel(t *testing.T) {
	if got := transport.ProtocolID("islington-camden"); got != "/nrmnet/raft/islington-camden/1" {
		t.Fatalf("ProtocolID = %q", got)
	}
}

// A member's dial reaches Accept on the other side, bytes flow both ways, and
// the addresses are the peer IDs.
func TestDialAcceptBetweenMembers(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, b := n.AddHost(), n.AddHost()
	admit := members(a.ID(), b.ID())
	la := newLayer(t, "islington-camden", a, admit)
	lb := newLayer(t, "islington-camden", b, admit)

	if la.Addr().String() != a.ID().String() {
		t.Fatalf("Addr = %s, want the peer ID %s", la.Addr(), a.ID())
	}
	conn, err := la.Dial(raft.ServerAddress(b.ID().String()), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	in, err := lb.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.RemoteAddr().String() != a.ID().String() {
		t.Fatalf("inbound remote %s, want %s", in.RemoteAddr(), a.ID())
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := in.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// A peer that is connected (the host admits it) but is not a member of the
// panel has its stream reset, and raft never sees it; the layer does not
// dial it either.
func TestStreamsFromNonMembersAreRefused(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, b, stranger := n.AddHost(), n.AddHost(), n.AddHost()
	admit := members(a.ID(), b.ID())
	la := newLayer(t, "islington-camden", a, admit)
	ls := newLayer(t, "islington-camden", stranger, func(peer.ID) bool { return true })

	conn, err := ls.Dial(raft.ServerAddress(a.ID().String()), 5*time.Second)
	if err == nil {
		// The stream may open before the remote handler resets it: the
		// refusal then shows on the first read.
		_, _ = conn.Write([]byte("vote for me"))
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, rerr := conn.Read(make([]byte, 1)); rerr == nil {
			t.Fatal("a non-member's stream was answered")
		}
		_ = conn.Close()
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := la.Accept()
		if err == nil {
			_ = c.Close()
			accepted <- errors.New("accepted a non-member's stream")
			return
		}
		accepted <- nil
	}()
	// Closing the layer ends Accept; if the stranger's stream had been
	// queued, Accept would have returned it first.
	if err := la.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if _, err := la.Dial(raft.ServerAddress(stranger.ID().String()), time.Second); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("dial after close: %v, want ErrClosed", err)
	}

	lb := newLayer(t, "islington-camden", b, admit)
	if _, err := lb.Dial(raft.ServerAddress(stranger.ID().String()), time.Second); !errors.Is(err, transport.ErrNotAdmitted) {
		t.Fatalf("dial to a non-member: %v, want ErrNotAdmitted", err)
	}
	if _, err := lb.Dial("10.0.0.1:8300", time.Second); !errors.Is(err, transport.ErrBadAddress) {
		t.Fatalf("dial to a TCP address: %v, want ErrBadAddress", err)
	}
}

// Two panels on the same two hosts do not see each other's streams.
func TestPanelsAreSeparateProtocols(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, b := n.AddHost(), n.AddHost()
	admit := members(a.ID(), b.ID())
	la := newLayer(t, "islington-camden", a, admit)
	lbOther := newLayer(t, "north-yorkshire-york", b, admit)
	lbSame := newLayer(t, "islington-camden", b, admit)

	conn, err := la.Dial(raft.ServerAddress(b.ID().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	in, err := lbSame.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = in.Close()
	_ = lbOther.Close()
	if _, err := lbOther.Accept(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("the other panel's layer accepted a stream: %v", err)
	}
}

// Dial over a cut link fails within its timeout instead of hanging.
func TestDialOverCutLinkFails(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, b := n.AddHost(), n.AddHost()
	admit := members(a.ID(), b.ID())
	la := newLayer(t, "islington-camden", a, admit)
	newLayer(t, "islington-camden", b, admit)
	n.Cut(a.ID(), b.ID())
	if _, err := la.Dial(raft.ServerAddress(b.ID().String()), 2*time.Second); err == nil {
		t.Fatal("dial over a cut link succeeded")
	}
}

// openedStream starts two member hosts with their layers and opens a
// stream from the first to the second carrying one byte; it returns the
// first host, both layers and the accepted end.
func openedStream(t *testing.T, n *transporttest.Network) (a host.Host, la, lb *transport.StreamLayer, in net.Conn) {
	t.Helper()
	a, b := n.AddHost(), n.AddHost()
	admit := members(a.ID(), b.ID())
	la = newLayer(t, "islington-camden", a, admit)
	lb = newLayer(t, "islington-camden", b, admit)
	conn, err := la.Dial(raft.ServerAddress(b.ID().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	in, err = lb.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return a, la, lb, in
}

// Sever resets the streams of a revoked member; Close resets the rest and is
// idempotent.
func TestSeverAndClose(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, la, lb, in := openedStream(t, n)
	if got := lb.Sever(a.ID()); got != 1 {
		t.Fatalf("Sever reset %d streams, want 1", got)
	}
	if _, err := in.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a severed stream succeeded")
	}
	if lb.OpenStreams() != 0 {
		t.Fatalf("%d streams still tracked after Sever", lb.OpenStreams())
	}
	if err := la.Close(); err != nil {
		t.Fatal(err)
	}
	if err := la.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if la.OpenStreams() != 0 {
		t.Fatalf("%d streams open after Close", la.OpenStreams())
	}
}

// listFSM keeps the applied commands in memory: enough to check that a
// three-node raft over the layer agrees.
type listFSM struct {
	mu  sync.Mutex
	cmd []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmd = append(f.cmd, string(l.Data))
	return len(f.cmd)
}
func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("listFSM: snapshots not used in this test")
}
func (f *listFSM) Restore(io.ReadCloser) error { return errors.New("listFSM: no restore") }
func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmd...)
}

// Three raft servers over the libp2p layer elect a leader, replicate, and
// every FSM applies the same commands in the same order.
func TestThreeNodeRaftOverLibp2p(t *testing.T) {
	n := transporttest.NewNetwork(t)
	hosts := []host.Host{n.AddHost(), n.AddHost(), n.AddHost()}
	admit := members(hosts[0].ID(), hosts[1].ID(), hosts[2].ID())
	var servers []raft.Server
	for _, h := range hosts {
		servers = append(servers, raft.Server{ID: raft.ServerID(h.ID().String()), Address: raft.ServerAddress(h.ID().String())})
	}
	rafts := make([]*raft.Raft, len(hosts))
	fsms := make([]*listFSM, len(hosts))
	for i, h := range hosts {
		cfg := transport.DefaultConfig()
		cfg.Panel, cfg.Host, cfg.Admit, cfg.Logger = "islington-camden", h, admit, testLogger(t)
		trans, _, err := transport.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stcfg := raftstore.DefaultConfig()
		stcfg.InMemory, stcfg.Plaintext = true, true
		store, err := raftstore.Open(stcfg)
		if err != nil {
			t.Fatal(err)
		}
		conf := fastRaftConfig(h.ID(), testLogger(t))
		fsms[i] = &listFSM{}
		r, err := raft.NewRaft(conf, fsms[i], store, store, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		rafts[i] = r
		t.Cleanup(func() {
			_ = r.Shutdown().Error()
			_ = trans.Close()
			_ = store.Close()
		})
	}
	if err := rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	leader := waitLeader(t, rafts)
	const commands = 50
	for i := range commands {
		if err := leader.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 10*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	if err := leader.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, f := range fsms {
		for len(f.list()) < commands && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		got := f.list()
		if len(got) != commands {
			t.Fatalf("server %d applied %d commands, want %d", i, len(got), commands)
		}
		for j, c := range got {
			if c != fmt.Sprintf("cmd-%d", j) {
				t.Fatalf("server %d applied %q at %d", i, c, j)
			}
		}
	}
}

func fastRaftConfig(id peer.ID, logger *slog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id.String())
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 150 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.Logger = raftstore.HCLogger(logger)
	return conf
}

func waitLeader(t testing.TB, rafts []*raft.Raft) *raft.Raft {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range rafts {
			if r.State() == raft.Leader {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader elected within 30s")
	return nil
}

// A member that shuts down (its host closes with a raft stream open) ends
// the other side's stream as an end of stream (io.EOF), which raft's
// transport takes as a peer going away; any other error it logs as
// "failed to decode incoming command" at Error, once per open stream, on
// every member's shutdown.
func TestPeerShutdownEndsStreamCleanly(t *testing.T) {
	n := transporttest.NewNetwork(t)
	a, _, _, in := openedStream(t, n)
	defer in.Close()
	if _, err := io.ReadFull(in, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	n.Stop(a.ID())
	_ = in.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := in.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer shut down: %v (%T), want io.EOF", err, err)
	}
}
