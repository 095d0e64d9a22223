package sim

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/gossip"
)

// gossipSubOptions are the production GossipSub options
// (gossip.RouterOptions: strict signing, flood publish, no peer exchange, the
// message size limit, peer scoring) for the one simulated topic; member
// stands for the roster lookup (every simulated node is a member).
// GossipSubParams stay at the library's defaults there as here.
func gossipSubOptions(topic string, member func(peer.ID) bool) []pubsub.Option {
	return gossip.RouterOptions([]string{topic}, member)
}

// floodSubOptions gives FloodSub the same signing and size limit.
func floodSubOptions() []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(gossip.MaxRouterMessage),
	}
}
