package federation

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/federation/roster"
)

// membership is one verified roster, indexed for the gater. It is never
// changed after it is built; a new roster makes a new membership, swapped in
// whole, so every check sees one roster or the other, never a mixture.
type membership struct {
	roster  *roster.Roster
	signed  []byte // the encoding verified, to pass on
	members map[peer.ID]roster.Member
}

func newMembership(r *roster.Roster, signed []byte) *membership {
	m := &membership{roster: r, signed: signed, members: make(map[peer.ID]roster.Member, len(r.Members))}
	for _, mem := range r.Members {
		if id, err := peer.Decode(mem.PeerID); err == nil {
			m.members[id] = mem
		}
	}
	return m
}

func (m *membership) admits(p peer.ID) bool {
	if m == nil {
		return false
	}
	_, ok := m.members[p]
	return ok
}

// rosterGater admits only peers on the current roster, or on another
// region's roster held. The secure handshake
// proves which key the remote holds; this decides whether that key may join.
type rosterGater struct {
	current    atomic.Pointer[membership]
	neighbours atomic.Pointer[neighbours] // other regions' rosters; never nil once the host is built
	log        *slog.Logger
	refused    atomic.Uint64 // connections refused at the secured step
	lastLog    atomic.Int64  // unix nanoseconds of the last refusal logged at Info
}

var _ connmgr.ConnectionGater = (*rosterGater)(nil)

// admits: a member of this region, or of another region whose roster this
// node holds (see neighbours.go).
func (g *rosterGater) admits(p peer.ID) bool {
	return g.current.Load().admits(p) || g.neighbours.Load().admits(p)
}

// InterceptPeerDial refuses to dial a peer that is not a member.
func (g *rosterGater) InterceptPeerDial(p peer.ID) bool {
	if !g.admits(p) {
		g.log.Debug("refused to dial a peer not on the roster", "peer", p)
		return false
	}
	return true
}

// InterceptAddrDial allows any address of a member. Addresses are not matched
// against the roster's: a DNS name is resolved before this check, and a
// member may move. Whoever answers must still prove the member's key.
func (g *rosterGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	return g.admits(p)
}

// InterceptAccept allows every inbound connection: who is calling is not
// known until the security handshake, and InterceptSecured decides then. The
// resource manager bounds the handshakes a stranger can hold open.
func (g *rosterGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured admits the authenticated remote peer only if it is on the
// roster, in either direction.
func (g *rosterGater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	if !g.admits(p) {
		g.refused.Add(1)
		// A stranger can knock as often as it likes: log at most one refusal
		// a second at Info, the rest at Debug.
		level := slog.LevelDebug
		now := time.Now().UnixNano()
		if last := g.lastLog.Load(); now-last >= int64(time.Second) && g.lastLog.CompareAndSwap(last, now) {
			level = slog.LevelInfo
		}
		g.log.Log(context.Background(), level, "refused a connection from a peer not on the roster",
			"peer", p, "direction", dir, "remote", addrs.RemoteMultiaddr(), "refused_total", g.refused.Load())
		return false
	}
	return true
}

// InterceptUpgraded checks again: the roster may have changed during the
// upgrade.
func (g *rosterGater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if !g.admits(c.RemotePeer()) {
		return false, 0
	}
	return true, 0
}
