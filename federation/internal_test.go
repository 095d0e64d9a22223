package federation

import (
	"crypto/ed25519"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/federation/roster"
)

func TestBackoffDoublesWithJitterAndCaps(t *testing.T) {
	lo0, hi0 := 100*time.Millisecond, 5*time.Second
	want := lo0
	for attempts := 1; attempts <= 12; attempts++ {
		for range 50 {
			d := backoff(attempts, lo0, hi0)
			if lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2); d < lo || d > hi {
				t.Fatalf("backoff(%d) = %v, want %v..%v", attempts, d, lo, hi)
			}
		}
		want = min(2*want, hi0)
	}
}

func TestLimitsLeaveRoomForEveryPeer(t *testing.T) {
	l := DefaultLimits()
	if err := l.validate(); err != nil {
		t.Fatal(err)
	}
	c := l.concrete().ToPartialLimitConfig()
	if got, want := int(c.System.Streams), 2*l.Peers*l.StreamsPerPeer; got != want {
		t.Errorf("system streams %d, want %d (every peer at its cap)", got, want)
	}
	if got, want := int(c.System.Conns), 2*l.Peers*l.ConnsPerPeer+l.HandshakeConns; got != want {
		t.Errorf("system conns %d, want %d", got, want)
	}
	if got := int(c.PeerDefault.StreamsInbound); got != l.StreamsPerPeer {
		t.Errorf("per-peer inbound streams %d, want %d", got, l.StreamsPerPeer)
	}
	if got := int64(c.PeerDefault.Memory); got != l.MemoryPerPeer {
		t.Errorf("per-peer memory %d, want %d", got, l.MemoryPerPeer)
	}
	if got := int(c.ProtocolPeer[protoMeshsub11].StreamsInbound); got != 4 {
		t.Errorf("gossip streams per peer %d, want 4", got)
	}
	// Raft's protocols are not listed: they get the default, the whole
	// per-peer budget.
	if got := int(c.ProtocolPeerDefault.StreamsInbound); got != l.StreamsPerPeer {
		t.Errorf("default protocol streams per peer %d, want %d", got, l.StreamsPerPeer)
	}
	if got := int(c.Transient.ConnsInbound); got != l.HandshakeConns {
		t.Errorf("transient inbound conns %d, want %d", got, l.HandshakeConns)
	}
	if _, err := l.resourceManager(); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsValidate(t *testing.T) {
	l := DefaultLimits()
	l.MemoryPerPeer = 1 << 20
	l.ProtocolStreamsPerPeer[protoFloodsub] = 0
	err := l.validate()
	if err == nil {
		t.Fatal("accepted")
	}
	t.Log(err)
}

type connAddrs struct{}

func (connAddrs) LocalMultiaddr() ma.Multiaddr  { return nil }
func (connAddrs) RemoteMultiaddr() ma.Multiaddr { return nil }

func TestGaterFollowsTheRoster(t *testing.T) {
	ids := make([]peer.ID, 3)
	members := make([]roster.Member, 3)
	for i := range ids {
		var s [32]byte
		s[0] = byte(i + 1)
		key := ed25519.NewKeyFromSeed(s[:])
		pid, err := roster.PeerIDOf(key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		ids[i], _ = peer.Decode(pid)
		members[i] = roster.Member{PeerID: pid}
	}
	g := &rosterGater{log: slog.New(slog.DiscardHandler)}
	check := func(want ...bool) {
		t.Helper()
		for i, p := range ids {
			got := []bool{
				g.InterceptPeerDial(p),
				g.InterceptAddrDial(p, nil),
				g.InterceptSecured(network.DirInbound, p, connAddrs{}),
				g.InterceptSecured(network.DirOutbound, p, connAddrs{}),
			}
			for j, ok := range got {
				if ok != want[i] {
					t.Errorf("peer %d check %d = %v, want %v", i, j, ok, want[i])
				}
			}
		}
	}
	if !g.InterceptAccept(connAddrs{}) {
		t.Error("InterceptAccept refused before knowing the peer")
	}
	check(false, false, false) // no roster: nobody
	g.current.Store(newMembership(&roster.Roster{Serial: 1, Members: members[:2]}, nil))
	check(true, true, false)
	g.current.Store(newMembership(&roster.Roster{Serial: 2, Members: members[1:]}, nil))
	check(false, true, true)
	if g.refused.Load() == 0 {
		t.Error("refusals not counted")
	}
}
