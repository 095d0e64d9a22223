package sim

import (
	"math"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The production GossipSub settings, replicated here because package gossip
// keeps them unexported. Each value below is copied from the file named in
// its comment (federation/gossip at the commit this package was written
// against); if those change, change these too. They should be exported by
// package gossip (for example as gossip.RouterOptions(member func(peer.ID)
// bool)) so that this copy can go.

// maxAlertMessage mirrors gossip/wire.go maxAlertMessage (64 KiB); the
// router's limit is that plus 4 KiB (gossip/service.go).
const maxAlertMessage = 64 << 10

// scoreDecayInterval mirrors gossip/score.go.
const scoreDecayInterval = time.Second

// decayOver mirrors gossip/score.go decayOver.
func decayOver(d time.Duration) float64 {
	return math.Pow(0.01, 1/(float64(d)/float64(scoreDecayInterval)))
}

// topicScoreParams mirrors gossip/score.go topicScoreParams.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    1,
		TimeInMeshWeight:               10.0 / 3600,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  3600,
		FirstMessageDeliveriesWeight:   1,
		FirstMessageDeliveriesDecay:    decayOver(24 * time.Hour),
		FirstMessageDeliveriesCap:      10,
		MeshMessageDeliveriesWeight:    0,
		MeshFailurePenaltyWeight:       0,
		InvalidMessageDeliveriesWeight: -100,
		InvalidMessageDeliveriesDecay:  decayOver(6 * time.Hour),
	}
}

// scoreParams mirrors gossip/score.go scoreParams for one topic; member
// stands for the roster lookup (every simulated node is a member).
func scoreParams(topic string, member func(peer.ID) bool) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:        map[string]*pubsub.TopicScoreParams{topic: topicScoreParams()},
		TopicScoreCap: 50,
		AppSpecificScore: func(p peer.ID) float64 {
			if member(p) {
				return 0
			}
			return -10000
		},
		AppSpecificWeight:         1,
		IPColocationFactorWeight:  0,
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     decayOver(time.Hour),
		DecayInterval:             scoreDecayInterval,
		DecayToZero:               0.01,
		RetainScore:               6 * time.Hour,
	}
}

// scoreThresholds mirrors gossip/score.go scoreThresholds.
func scoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             -500,
		PublishThreshold:            -1000,
		GraylistThreshold:           -2500,
		AcceptPXThreshold:           0,
		OpportunisticGraftThreshold: 3,
	}
}

// gossipSubOptions mirrors the options gossip/service.go passes to
// pubsub.NewGossipSub (strict signing, flood publish on, peer exchange off,
// the message size limit, peer scoring); GossipSubParams stay at the
// library's defaults there as here. Logging and score inspection are left
// out: they do not change routing.
func gossipSubOptions(topic string, member func(peer.ID) bool) []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerExchange(false),
		pubsub.WithMaxMessageSize(maxAlertMessage + 4<<10),
		pubsub.WithPeerScore(scoreParams(topic, member), scoreThresholds()),
	}
}

// floodSubOptions gives FloodSub the same signing and size limit.
func floodSubOptions() []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(maxAlertMessage + 4<<10),
	}
}
