package gossip

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"
)

// NewTapped is New with a tap that sees every message the service sends or
// receives, before validation.
func NewTapped(ctx context.Context, cfg Config, tap func(what string, b []byte)) (*Service, error) {
	return newService(ctx, cfg, tap)
}

// PublishRaw publishes bytes on one of the service's topics, as the outbox
// does when it re-publishes.
func (s *Service) PublishRaw(ctx context.Context, topic string, b []byte) error {
	return s.publishOn(ctx, topic, b)
}

// TopicPeers lists the peers the router knows on a topic.
func (s *Service) TopicPeers(topic string) []peer.ID {
	t, ok := s.topics[topic]
	if !ok {
		return nil
	}
	return t.ListPeers()
}

// CheckAlert runs the alert validator's checks as for a message on topic
// signed by author, and returns the reason label ("" when accepted).
func (s *Service) CheckAlert(data []byte, author peer.ID, topic string) string {
	_, v := s.checkAlert(data, author, topic)
	return v.reason
}

// Pull runs one digest exchange with p now and returns how many alerts it
// fetched.
func (s *Service) Pull(p peer.ID) (int, error) { return s.pull(p) }

// NationalDirectPeers lists the national router's direct peers as the
// service last set them.
func (s *Service) NationalDirectPeers() []peer.ID {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	var out []peer.ID
	for p := range s.direct {
		out = append(out, p)
	}
	return out
}
