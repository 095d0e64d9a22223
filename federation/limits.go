package federation

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// concrete turns Limits into the resource manager's configuration. It starts
// from libp2p's defaults, scaled to the memory and descriptors given, with
// libp2p's own service limits (identify, ping), and then sets every scope the
// federation's traffic passes through.
func (l Limits) concrete() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&base)
	defaults := base.Scale(l.Memory, l.FileDescriptors)

	peers := l.Peers
	perPeer := rcmgr.ResourceLimits{
		Conns:           rcmgr.LimitVal(2 * l.ConnsPerPeer),
		ConnsInbound:    rcmgr.LimitVal(l.ConnsPerPeer),
		ConnsOutbound:   rcmgr.LimitVal(l.ConnsPerPeer),
		Streams:         rcmgr.LimitVal(2 * l.StreamsPerPeer),
		StreamsInbound:  rcmgr.LimitVal(l.StreamsPerPeer),
		StreamsOutbound: rcmgr.LimitVal(l.StreamsPerPeer),
		FD:              rcmgr.LimitVal(2 * l.ConnsPerPeer),
		Memory:          rcmgr.LimitVal64(l.MemoryPerPeer),
	}
	partial := rcmgr.PartialLimitConfig{
		// Room for every peer at its cap in connections and streams, so that
		// no peer's use can exhaust the system's count for the others; memory
		// is the one budget shared (see DESIGN.md).
		System: rcmgr.ResourceLimits{
			Conns:           rcmgr.LimitVal(2*peers*l.ConnsPerPeer + l.HandshakeConns),
			ConnsInbound:    rcmgr.LimitVal(peers*l.ConnsPerPeer + l.HandshakeConns),
			ConnsOutbound:   rcmgr.LimitVal(peers * l.ConnsPerPeer),
			Streams:         rcmgr.LimitVal(2 * peers * l.StreamsPerPeer),
			StreamsInbound:  rcmgr.LimitVal(peers * l.StreamsPerPeer),
			StreamsOutbound: rcmgr.LimitVal(peers * l.StreamsPerPeer),
			FD:              rcmgr.LimitVal(l.FileDescriptors),
			Memory:          rcmgr.LimitVal64(l.Memory),
		},
		// Transient: connections before the security handshake names the
		// peer, and streams before their protocol is negotiated. Strangers
		// never get past the gater, but they can hold handshakes open; this
		// caps what they can hold.
		Transient: rcmgr.ResourceLimits{
			Conns:           rcmgr.LimitVal(l.HandshakeConns),
			ConnsInbound:    rcmgr.LimitVal(l.HandshakeConns),
			ConnsOutbound:   rcmgr.LimitVal(l.HandshakeConns),
			Streams:         rcmgr.LimitVal(4 * l.HandshakeConns),
			StreamsInbound:  rcmgr.LimitVal(2 * l.HandshakeConns),
			StreamsOutbound: rcmgr.LimitVal(2 * l.HandshakeConns),
			FD:              rcmgr.LimitVal(l.HandshakeConns),
			Memory:          rcmgr.LimitVal64(l.Memory / 16),
		},
		PeerDefault: perPeer,
		// One connection may carry all of a peer's streams.
		Conn: rcmgr.ResourceLimits{
			Conns: 1, ConnsInbound: 1, ConnsOutbound: 1, FD: 1,
			Memory: rcmgr.LimitVal64(l.MemoryPerPeer),
		},
		// Protocols not listed below (Raft's, one per panel, and any the
		// caller does not cap) get the whole per-peer budget.
		ProtocolDefault: rcmgr.ResourceLimits{
			Streams:         rcmgr.LimitVal(2 * peers * l.StreamsPerPeer),
			StreamsInbound:  rcmgr.LimitVal(peers * l.StreamsPerPeer),
			StreamsOutbound: rcmgr.LimitVal(peers * l.StreamsPerPeer),
			Memory:          rcmgr.LimitVal64(l.Memory),
		},
		ProtocolPeerDefault: rcmgr.ResourceLimits{
			Streams:         rcmgr.LimitVal(2 * l.StreamsPerPeer),
			StreamsInbound:  rcmgr.LimitVal(l.StreamsPerPeer),
			StreamsOutbound: rcmgr.LimitVal(l.StreamsPerPeer),
			Memory:          rcmgr.LimitVal64(l.MemoryPerPeer),
		},
		Protocol:     map[protocol.ID]rcmgr.ResourceLimits{},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{},
	}
	for p, n := range l.ProtocolStreamsPerPeer {
		partial.ProtocolPeer[p] = rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(2 * n), StreamsInbound: rcmgr.LimitVal(n), StreamsOutbound: rcmgr.LimitVal(n),
		}
		partial.Protocol[p] = rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(2 * peers * n), StreamsInbound: rcmgr.LimitVal(peers * n), StreamsOutbound: rcmgr.LimitVal(peers * n),
		}
	}
	return partial.Build(defaults)
}

// resourceManager returns a resource manager enforcing l.
func (l Limits) resourceManager() (network.ResourceManager, error) {
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(l.concrete()))
}
