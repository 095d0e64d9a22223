// Package transporttest builds real libp2p hosts on loopback TCP for tests of
// the Raft layers, joined in a Network whose connection gater can cut links:
// a partition here is a refused dial and a closed connection, not a flag in
// a fake. It is for tests only.
package transporttest

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Network is a set of loopback hosts that know each other's addresses, with
// links that tests can cut and heal.
type Network struct {
	t testing.TB

	mu      sync.Mutex
	keys    map[peer.ID]crypto.PrivKey
	hosts   map[peer.ID]host.Host
	blocked map[[2]peer.ID]bool
}

// NewNetwork returns an empty network; every host it starts is closed by
// t.Cleanup.
func NewNetwork(t testing.TB) *Network {
	return &Network{
		t:       t,
		keys:    make(map[peer.ID]crypto.PrivKey),
		hosts:   make(map[peer.ID]host.Host),
		blocked: make(map[[2]peer.ID]bool),
	}
}

// NewIdentity makes a fresh ed25519 identity and returns its peer ID; Start
// starts a host with it.
func (n *Network) NewIdentity() peer.ID {
	n.t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		n.t.Fatalf("generate key: %v", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		n.t.Fatalf("peer id: %v", err)
	}
	n.mu.Lock()
	n.keys[id] = priv
	n.mu.Unlock()
	return id
}

// AddHost makes an identity and starts a host with it.
func (n *Network) AddHost() host.Host {
	n.t.Helper()
	return n.Start(n.NewIdentity())
}

// Start starts (or restarts, after Stop) the host of identity id on a fresh
// loopback port and tells every other running host where it is.
func (n *Network) Start(id peer.ID) host.Host {
	n.t.Helper()
	n.mu.Lock()
	priv, ok := n.keys[id]
	old := n.hosts[id]
	n.mu.Unlock()
	if !ok {
		n.t.Fatalf("unknown identity %s", id)
	}
	if old != nil {
		n.t.Fatalf("host %s already running", id)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.ConnectionGater(&gater{net: n, self: id}),
		libp2p.DisableRelay(),
	)
	if err != nil {
		n.t.Fatalf("start libp2p host: %v", err)
	}
	n.t.Cleanup(func() { _ = h.Close() })

	n.mu.Lock()
	n.hosts[id] = h
	others := make([]host.Host, 0, len(n.hosts))
	for _, o := range n.hosts {
		if o != h {
			others = append(others, o)
		}
	}
	n.mu.Unlock()
	for _, o := range others {
		o.Peerstore().ClearAddrs(id)
		o.Peerstore().AddAddrs(id, h.Addrs(), peerstore.PermanentAddrTTL)
		h.Peerstore().AddAddrs(o.ID(), o.Addrs(), peerstore.PermanentAddrTTL)
	}
	return h
}

// Stop closes the host of id, as a crash or a shutdown would.
func (n *Network) Stop(id peer.ID) {
	n.mu.Lock()
	h := n.hosts[id]
	delete(n.hosts, id)
	n.mu.Unlock()
	if h != nil {
		_ = h.Close()
	}
}

// Host returns the running host of id, or nil.
func (n *Network) Host(id peer.ID) host.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[id]
}

// Cut blocks the link between a and b both ways and closes their
// connections: neither can dial the other until Heal.
func (n *Network) Cut(a, b peer.ID) {
	n.mu.Lock()
	n.blocked[[2]peer.ID{a, b}] = true
	n.blocked[[2]peer.ID{b, a}] = true
	ha, hb := n.hosts[a], n.hosts[b]
	n.mu.Unlock()
	if ha != nil {
		_ = ha.Network().ClosePeer(b)
	}
	if hb != nil {
		_ = hb.Network().ClosePeer(a)
	}
}

// Isolate cuts p from every other identity the network knows.
func (n *Network) Isolate(p peer.ID) {
	for _, o := range n.identities() {
		if o != p {
			n.Cut(p, o)
		}
	}
}

// Partition cuts every link between the two sides.
func (n *Network) Partition(side, other []peer.ID) {
	for _, a := range side {
		for _, b := range other {
			n.Cut(a, b)
		}
	}
}

// HealAll restores every link.
func (n *Network) HealAll() {
	n.mu.Lock()
	clear(n.blocked)
	n.mu.Unlock()
}

// Linked says whether a and b may connect.
func (n *Network) Linked(a, b peer.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.blocked[[2]peer.ID{a, b}]
}

func (n *Network) identities() []peer.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]peer.ID, 0, len(n.keys))
	for id := range n.keys {
		ids = append(ids, id)
	}
	return ids
}

// gater refuses connections over cut links, in both directions.
type gater struct {
	net  *Network
	self peer.ID
}

func (g *gater) InterceptPeerDial(p peer.ID) bool { return g.net.Linked(g.self, p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	return g.net.Linked(g.self, p)
}
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.net.Linked(g.self, p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
