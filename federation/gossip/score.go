package gossip

import (
	"math"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer scoring for topics that carry a few messages an hour. DESIGN.md
// explains each choice; in short: reward what cannot misfire (time in mesh,
// first deliveries), punish only what an honest node never does (invalid
// messages, broken protocol behaviour), and turn off the mesh delivery-rate
// terms, which would punish honest peers for the silence of a quiet region.

const scoreDecayInterval = time.Second

// decayOver returns the per-interval factor that brings a counter to 1% of
// its value after d.
func decayOver(d time.Duration) float64 {
	ticks := float64(d) / float64(scoreDecayInterval)
	return math.Pow(0.01, 1/ticks)
}

func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight: 1,
		// P1: up to +10 after an hour in the mesh.
		TimeInMeshWeight:  10.0 / 3600,
		TimeInMeshQuantum: time.Second,
		TimeInMeshCap:     3600,
		// P2: +1 per message delivered first, capped at 10, fading over a day.
		FirstMessageDeliveriesWeight: 1,
		FirstMessageDeliveriesDecay:  decayOver(24 * time.Hour),
		FirstMessageDeliveriesCap:    10,
		// P3 and P3b (mesh delivery rate and its failure penalty): off.
		MeshMessageDeliveriesWeight: 0,
		MeshFailurePenaltyWeight:    0,
		// P4: invalid messages, squared: one costs -100, three -900. Fades
		// over six hours, so a node fixed after a bug rejoins the same day.
		InvalidMessageDeliveriesWeight: -100,
		InvalidMessageDeliveriesDecay:  decayOver(6 * time.Hour),
	}
}

// RouterOptions are the GossipSub options every node runs with: strict
// signing, flood publishing, the mesh parameters of MeshParams, no peer
// exchange, the message size limit and the peer scoring above over the given
// topics, member saying whether a peer is on the roster in force. The
// service adds logging, score inspection and, on the national router, its
// protocol and direct peers; the simulation in gossip/sim runs exactly
// these, so what it measures is what the nodes run.
func RouterOptions(topics []string, member func(peer.ID) bool) []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithFloodPublish(true),
		pubsub.WithGossipSubParams(MeshParams()),
		pubsub.WithPeerExchange(false),
		pubsub.WithMaxMessageSize(MaxRouterMessage),
		pubsub.WithPeerScore(scoreParams(topics, member), scoreThresholds()),
	}
}

// MeshParams are GossipSub's defaults with a smaller mesh: D 4, D_lo 3,
// D_hi 6, D_score 2, D_out 1 (the defaults are 6, 5, 12, 4, 2). With flood
// publish on a region's full mesh every member hears the publisher directly,
// so mesh relays are duplicates unless the direct copy was lost; D 4 is the
// smallest mesh that still carries a lost copy on without waiting for a
// heartbeat at 30% message loss in the simulation (DESIGN.md, "Mesh size";
// figures in docs/benchmarks.md).
func MeshParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout = 4, 3, 6, 2, 1
	return p
}

// MaxRouterMessage is the largest pubsub message a node accepts: an alert
// envelope at its limit plus room for pubsub's own fields.
const MaxRouterMessage = maxAlertMessage + 4<<10

func scoreParams(topicNames []string, member func(peer.ID) bool) *pubsub.PeerScoreParams {
	topics := map[string]*pubsub.TopicScoreParams{}
	for _, t := range topicNames {
		topics[t] = topicScoreParams()
	}
	return &pubsub.PeerScoreParams{
		Topics:        topics,
		TopicScoreCap: 50,
		// P5: a peer not on the roster in force (revoked a moment ago; the
		// gater closes its connections) is at once below the graylist.
		AppSpecificScore: func(p peer.ID) float64 {
			if member(p) {
				return 0
			}
			return -10000
		},
		AppSpecificWeight: 1,
		// P6: off. Authorities may share an address (a shared NAT, a
		// council's shared data centre), and tests all run on loopback.
		IPColocationFactorWeight: 0,
		// P7: protocol misbehaviour (GRAFT during backoff, broken promises).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     decayOver(time.Hour),
		DecayInterval:             scoreDecayInterval,
		DecayToZero:               0.01,
		RetainScore:               6 * time.Hour,
	}
}

func scoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             -500,  // about two invalid messages
		PublishThreshold:            -1000, // about three
		GraylistThreshold:           -2500, // five: everything from it is dropped
		AcceptPXThreshold:           0,     // peer exchange is off anyway
		OpportunisticGraftThreshold: 3,
	}
}
