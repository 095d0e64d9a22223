package federation_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
)

const otherRegion = "South East"

var (
	seAnchor1, seAnchor2 = seedKey(51), seedKey(52)
	seAnchors            = []ed25519.PublicKey{pubOf(seAnchor1), pubOf(seAnchor2), pubOf(seedKey(53))}
)

// regionRoster is rosterOf for any region, with roles per node.
func regionRoster(t *testing.T, name string, serial uint64, nodes []*node, roles map[*node][]roster.Role) *roster.Roster {
	t.Helper()
	r := rosterOf(t, serial, nodes, true)
	r.Region = name
	for i, n := range nodes {
		if rs, ok := roles[n]; ok {
			r.Members[i].Roles = rs
		}
	}
	return r
}

// TestNeighbourRegions: two regions of two nodes each, one bridge in each,
// every node configured with the other region's anchors. Bridges keep a
// connection to each other; other nodes connect across regions only on
// demand, and are admitted when they do; a roster of a region without trust
// anchors, or signed by the wrong region's anchors, is refused; the other
// region's newer roster revokes its member here too.
func TestNeighbourRegions(t *testing.T) {
	london := newNodes(2)
	se := authority.InRegion(otherRegion)
	south := []*node{{code: se[0].Code, key: seedKey(60)}, {code: se[1].Code, key: seedKey(61)}}
	bridge := []roster.Role{roster.RoleAuthority, roster.RoleBridge}
	roles := map[*node][]roster.Role{london[0]: bridge, south[0]: bridge}

	// Start every host on a roster without addresses (ports are not known
	// yet), each region's with its own anchors.
	lFirst := sign(t, regionRoster(t, region, 1, london, roles), anchor1, anchor2)
	sFirst := sign(t, regionRoster(t, otherRegion, 1, south, roles), seAnchor1, seAnchor2)
	start := func(n *node, home string, signed []byte, homeAnchors []ed25519.PublicKey, other federation.RegionTrust) {
		cfg := testConfig(t, n, signed)
		cfg.Region, cfg.Anchors = home, homeAnchors
		cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Neighbours = []federation.RegionTrust{other}
		h, err := federation.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", n.code, err)
		}
		n.host = h
		h.Libp2p().SetStreamHandler(echoProto, echo)
		t.Cleanup(func() { _ = h.Close() })
	}
	for _, n := range london {
		start(n, region, lFirst, anchors, federation.RegionTrust{Region: otherRegion, Anchors: seAnchors, Threshold: 2})
	}
	for _, n := range south {
		start(n, otherRegion, sFirst, seAnchors, federation.RegionTrust{Region: region, Anchors: anchors, Threshold: 2, Roster: lFirst})
	}
	// Serial 2 with addresses; each node is given both regions' rosters,
	// as the gossip layer would give them.
	lSecond := sign(t, regionRoster(t, region, 2, london, roles), anchor2, anchor3)
	sRoster := regionRoster(t, otherRegion, 2, south, roles)
	sSecond := sign(t, sRoster, seAnchor1, seAnchor2)
	var seen []uint64
	var seenMu sync.Mutex
	stop := london[1].host.NeighbourUpdates(func(u federation.RosterUpdate) {
		seenMu.Lock()
		defer seenMu.Unlock()
		if u.Roster.Region != otherRegion {
			t.Errorf("neighbour update for %s", u.Roster.Region)
		}
		seen = append(seen, u.Roster.Serial)
	})
	defer stop()
	for _, n := range append(append([]*node{}, london...), south...) {
		for _, s := range [][]byte{lSecond, sSecond} {
			if err := n.host.UpdateRoster(s); err != nil {
				t.Fatalf("%s: %v", n.code, err)
			}
		}
	}

	l0, l1, s0, s1 := london[0], london[1], south[0], south[1]
	eventually(t, "the two bridges connect", func() bool { return connected(l0, s0.peerID(t)) && connected(s0, l0.peerID(t)) })
	eventually(t, "each region's members connect", func() bool { return connected(l0, l1.peerID(t)) && connected(s0, s1.peerID(t)) })

	if got := l1.host.Rosters(); len(got) != 2 || got[0].Region != region || got[1].Region != otherRegion || got[1].Serial != 2 {
		t.Fatalf("Rosters() = %d rosters", len(got))
	}
	if l, ok := l1.host.Lookup(s1.code); !ok || l.Region != otherRegion || l.Member.PeerID != s1.peerID(t).String() {
		t.Fatalf("Lookup(%s) = %+v, %v", s1.code, l, ok)
	}
	if l, ok := l1.host.LookupPeer(s0.peerID(t)); !ok || l.Region != otherRegion || !l.Member.HasRole(roster.RoleBridge) {
		t.Fatalf("LookupPeer(south bridge) = %+v, %v", l, ok)
	}
	if _, ok := l1.host.Member(s0.peerID(t)); ok {
		t.Fatal("Member (the home roster) lists a member of another region")
	}

	// A member that is not a bridge does not keep connections across
	// regions: give the connector several rounds to (wrongly) dial.
	time.Sleep(5 * testConfig(t, l1, lFirst).ReconnectInterval)
	for _, p := range []peer.ID{s0.peerID(t), s1.peerID(t)} {
		if hasConns(l1, p) {
			t.Fatalf("a London member that is no bridge connected to %s of %s by itself", p, otherRegion)
		}
	}
	// But it may reach any of them when it needs to (an acknowledgement, a
	// match query, a hand-over), and is admitted there; and back.
	if err := ping(context.Background(), l1.host.Libp2p(), s1.peerID(t)); err != nil {
		t.Fatalf("London member to a South East member: %v", err)
	}
	if err := ping(context.Background(), s1.host.Libp2p(), l1.peerID(t)); err != nil {
		t.Fatalf("South East member to a London member: %v", err)
	}

	// A roster of a region this node holds no anchors for is refused, as is
	// one signed by the wrong region's anchors.
	ne := authority.InRegion("North East")
	stranger := &node{code: ne[0].Code, key: seedKey(70)}
	neRoster := regionRoster(t, "North East", 1, []*node{stranger}, nil)
	err := l1.host.UpdateRoster(sign(t, neRoster, anchor1, anchor2))
	if !errors.Is(err, federation.ErrUntrustedRegion) || !errors.Is(err, roster.ErrWrongRegion) {
		t.Fatalf("roster of an untrusted region: %v", err)
	}
	forged := regionRoster(t, otherRegion, 9, south, roles)
	if err := l1.host.UpdateRoster(sign(t, forged, anchor1, anchor2)); !errors.Is(err, roster.ErrThreshold) {
		t.Fatalf("South East roster signed by London's anchors: %v", err)
	}
	if got := l1.host.Rosters()[1].Serial; got != 2 {
		t.Fatalf("a refused roster changed the one held: serial %d", got)
	}

	// South East revokes its second member: London's nodes cut it.
	sThird := sign(t, regionRoster(t, otherRegion, 3, south[:1], roles), seAnchor1, seAnchor2)
	for _, n := range london {
		if err := n.host.UpdateRoster(sThird); err != nil {
			t.Fatalf("%s: %v", n.code, err)
		}
	}
	eventually(t, "the revoked South East member is cut from London's nodes", func() bool { return !hasConns(l1, s1.peerID(t)) })
	if _, ok := l1.host.Lookup(s1.code); ok {
		t.Fatal("a revoked member of another region is still found")
	}
	if err := ping(context.Background(), s1.host.Libp2p(), l1.peerID(t)); err == nil {
		t.Fatal("a member revoked by its own region still reached a London node")
	}
	eventually(t, "the observer saw serials 2 and 3", func() bool {
		seenMu.Lock()
		defer seenMu.Unlock()
		return len(seen) == 2 && seen[0] == 2 && seen[1] == 3
	})
}

// TestNeighbourConfigRefused: the trust given for another region is checked
// when the host is built.
func TestNeighbourConfigRefused(t *testing.T) {
	n := newNodes(1)[0]
	signed := sign(t, rosterOf(t, 1, []*node{n}, false), anchor1, anchor2)
	for name, tr := range map[string]federation.RegionTrust{
		"own region":   {Region: region, Anchors: seAnchors, Threshold: 2},
		"no region":    {Region: "Atlantis", Anchors: seAnchors, Threshold: 2},
		"threshold":    {Region: otherRegion, Anchors: seAnchors, Threshold: 4},
		"wrong roster": {Region: otherRegion, Anchors: seAnchors, Threshold: 2, Roster: signed},
		"under-signed": {Region: otherRegion, Anchors: anchors, Threshold: 3, Roster: signed},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, n, signed)
			cfg.Neighbours = []federation.RegionTrust{tr}
			h, err := federation.New(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}

// TestExpiredNeighbourRosterIsLeftOut: a node does not refuse to start
// because the roster it holds for another region has expired; it holds none
// for that region until a newer one comes.
func TestExpiredNeighbourRosterIsLeftOut(t *testing.T) {
	n := newNodes(1)[0]
	signed := sign(t, rosterOf(t, 1, []*node{n}, false), anchor1, anchor2)
	se := authority.InRegion(otherRegion)
	old := regionRoster(t, otherRegion, 1, []*node{{code: se[0].Code, key: seedKey(62)}}, nil)
	old.IssuedAt, old.ExpiresAt = old.IssuedAt.Add(-48*time.Hour), time.Now().Add(-time.Hour).Truncate(time.Second)
	cfg := testConfig(t, n, signed)
	cfg.Neighbours = []federation.RegionTrust{{Region: otherRegion, Anchors: seAnchors, Threshold: 2, Roster: sign(t, old, seAnchor1, seAnchor2)}}
	h, err := federation.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("an expired roster of another region stopped the node: %v", err)
	}
	defer h.Close()
	if rs := h.Rosters(); len(rs) != 1 || rs[0].Region != region {
		t.Fatalf("Rosters() = %d rosters; want only the home one", len(rs))
	}
}
