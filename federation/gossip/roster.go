package gossip

import (
	"context"
	"errors"
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation"
	"nrmnet/federation/roster"
)

// RosterTopic returns the topic on which a region's members spread its
// signed roster, so that a roster given to one node from file reaches every
// member (ARCHITECTURE.md: "it spreads by gossip and from file").
func RosterTopic(region string) string { return "/nrmnet/roster/1/region/" + slug(region) }

const labelRoster = "roster"

const (
	// reasonRosterSame marks a copy of the roster already held: nothing
	// new, so it is not forwarded.
	reasonRosterSame = "same_roster"
	// reasonBadRoster marks a roster that does not decode or lacks the
	// threshold of trust-anchor signatures.
	reasonBadRoster = "bad_roster"
)

// validateRoster checks a gossiped roster against this node's own trust
// anchors and threshold (the host's configuration, never the roster's) and,
// when it is newer than the one held, moves the host to it: its gater then
// admits new members and refuses revoked ones. Accepting forwards the
// roster; a copy of the roster held is ignored, so it stops spreading once
// every member has it.
func (s *Service) validateRoster(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if s.tap != nil {
		s.tap("receive "+RosterTopic(s.region), msg.Data)
	}
	v := s.checkRoster(msg.Data, from == s.self)
	if v.result == pubsub.ValidationAccept {
		if from != s.self {
			s.metrics.delivered.WithLabelValues(labelRoster).Inc()
		}
	} else {
		s.count(labelRoster, v, from, nil)
	}
	return v.result
}

func (s *Service) checkRoster(data []byte, own bool) verdict {
	if len(data) > maxAlertMessage {
		return reject(reasonMalformed, fmt.Errorf("%w: roster of %d bytes", ErrMalformed, len(data)))
	}
	before := s.host.Roster().Serial
	err := s.host.UpdateRoster(data)
	switch {
	case errors.Is(err, federation.ErrClosed):
		return ignore(reasonStale, err)
	case errors.Is(err, roster.ErrStale):
		return ignore(reasonStale, err)
	case errors.Is(err, roster.ErrExpired):
		// A lagging member's old roster: not forged, just out of date.
		return ignore(reasonExpired, err)
	case errors.Is(err, roster.ErrWrongRegion):
		return reject(reasonWrongRegion, err)
	case err != nil:
		return reject(reasonBadRoster, err)
	}
	if own || s.host.Roster().Serial > before {
		// Our own publication must pass for pubsub to send it.
		return verdict{result: pubsub.ValidationAccept}
	}
	return ignore(reasonRosterSame, nil)
}

// rosterLoop publishes the roster this node holds when it starts, whenever
// the host moves to a newer one, and every DigestInterval, so a member that
// was away or that joined the topic late still hears of a newer roster.
func (s *Service) rosterLoop() {
	defer s.wg.Done()
	kick := make(chan struct{}, 1)
	stop := s.host.RosterUpdates(func(federation.RosterUpdate) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	defer stop()
	t := time.NewTicker(s.cfg.DigestInterval)
	defer t.Stop()
	for {
		if signed := s.host.SignedRoster(); len(signed) > 0 {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
			if err := s.publishOn(ctx, RosterTopic(s.region), signed); err != nil && s.ctx.Err() == nil {
				s.log.Debug("publishing the roster failed", "serial", s.host.Roster().Serial, "err", err)
			}
			cancel()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
	}
}
