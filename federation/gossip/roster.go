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

// NationalRosterTopic carries every region's roster between regions; only
// bridges publish on it.
const NationalRosterTopic = "/nrmnet/roster/1/national"

// NationalRosterEvery is how many digest intervals pass between a bridge's
// re-publications of the rosters it holds on the national roster topic
// (besides those on every change): ten minutes by default.
const NationalRosterEvery = 10

const labelRoster = "roster"

const (
	// reasonRosterSame marks a copy of the roster already held: nothing
	// new, so it is not forwarded.
	reasonRosterSame = "same_roster"
	// reasonBadRoster marks a roster that does not decode or lacks the
	// threshold of trust-anchor signatures.
	reasonBadRoster = "bad_roster"
	// reasonUntrustedRegion marks a roster of a region this node holds no
	// trust anchors for: it cannot be checked here, but is no forgery.
	reasonUntrustedRegion = "untrusted_region"
)

// validateRosterOn returns the validator of a roster topic. A gossiped
// roster is checked against this node's own trust anchors and threshold (the
// host's configuration, never the roster's) and, when it is newer than the
// one held, the host moves to it: its gater then admits new members and
// refuses revoked ones. Accepting forwards the roster; a copy of the roster
// held is ignored, so it stops spreading once every member has it.
//
// On a region's topic only that region's roster is valid. On the national
// topic, bridges carry every region's roster: one for a region this node
// holds no anchors for is ignored (another node may well hold them), not
// rejected.
func (s *Service) validateRosterOn(topic string) pubsub.ValidatorEx {
	national := topic == NationalRosterTopic
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if s.tap != nil {
			s.tap("receive "+topic, msg.Data)
		}
		v := s.checkRoster(msg.Data, from == s.self, national)
		if v.result == pubsub.ValidationAccept {
			if from != s.self {
				s.metrics.delivered.WithLabelValues(labelRoster).Inc()
			}
		} else {
			s.count(labelRoster, v, from, nil)
		}
		return v.result
	}
}

// serials returns the serial of every roster the host holds, by region.
func (s *Service) serials() map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range s.host.Rosters() {
		out[r.Region] = r.Serial
	}
	return out
}

func (s *Service) checkRoster(data []byte, own, national bool) verdict {
	if len(data) > maxAlertMessage {
		return reject(reasonMalformed, fmt.Errorf("%w: roster of %d bytes", ErrMalformed, len(data)))
	}
	sr, err := roster.DecodeSignedRoster(data)
	if err != nil {
		return reject(reasonBadRoster, err)
	}
	region := sr.Unverified().Region
	if !national && region != s.region {
		return reject(reasonWrongRegion, fmt.Errorf("%w: a roster of %s on %s's topic", roster.ErrWrongRegion, region, s.region))
	}
	before := s.serials()[region]
	err = s.host.UpdateRoster(data)
	switch {
	case errors.Is(err, federation.ErrClosed):
		return ignore(reasonStale, err)
	case errors.Is(err, roster.ErrStale):
		return ignore(reasonStale, err)
	case errors.Is(err, roster.ErrExpired):
		// A lagging member's old roster: not forged, just out of date.
		return ignore(reasonExpired, err)
	case errors.Is(err, federation.ErrUntrustedRegion):
		return ignore(reasonUntrustedRegion, err)
	case errors.Is(err, roster.ErrWrongRegion):
		return reject(reasonWrongRegion, err)
	case err != nil:
		return reject(reasonBadRoster, err)
	}
	if own || s.serials()[region] > before {
		// Our own publication must pass for pubsub to send it.
		return verdict{result: pubsub.ValidationAccept}
	}
	return ignore(reasonRosterSame, nil)
}

// rosterLoop publishes the roster this node holds on its region's roster
// topic when it starts, whenever the host moves to a newer one, and every
// DigestInterval, so a member that was away or that joined the topic late
// still hears of a newer roster.
//
// A bridge also publishes every roster it holds (its region's and the other
// regions') on the national roster topic: at start, on every change, and
// every NationalRosterEvery digest intervals. That is how a region's newer
// roster reaches the other regions, and how a member that was away when it
// came hears of it from its own bridge.
func (s *Service) rosterLoop() {
	defer s.wg.Done()
	kick := make(chan struct{}, 1)
	poke := func(federation.RosterUpdate) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	stop := s.host.RosterUpdates(poke)
	defer stop()
	stopN := s.host.NeighbourUpdates(poke)
	defer stopN()
	t := time.NewTicker(s.cfg.DigestInterval)
	defer t.Stop()
	publish := func(topic string, signed []byte) {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
		defer cancel()
		if err := s.publishOn(ctx, topic, signed); err != nil && s.ctx.Err() == nil {
			s.log.Debug("publishing a roster failed", "topic", topic, "err", err)
		}
	}
	ticks := 0
	held := map[string]uint64{}
	for {
		s.syncDirect()
		home := s.host.SignedRoster()
		if len(home) > 0 {
			publish(RosterTopic(s.region), home)
		}
		if s.isBridge() {
			now := s.serials()
			changed := len(now) != len(held)
			for r, n := range now {
				changed = changed || held[r] != n
			}
			if changed || ticks%NationalRosterEvery == 0 {
				held = now
				if len(home) > 0 {
					publish(NationalRosterTopic, home)
				}
				for _, signed := range s.host.SignedNeighbourRosters() {
					publish(NationalRosterTopic, signed)
				}
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-kick:
		case <-t.C:
			ticks++
		}
	}
}

// isBridge reports whether this node is a bridge on the roster in force.
func (s *Service) isBridge() bool {
	m, ok := s.host.Member(s.self)
	return ok && m.HasRole(roster.RoleBridge)
}

// nationalDirect returns the national router's direct peers, from the
// rosters held now: for a bridge, the bridges of every other region and
// every other member of its own region; for any other member, its region's
// bridges. rosterLoop keeps the router's set in step with roster changes.
func (s *Service) nationalDirect() []peer.AddrInfo {
	info := func(m roster.Member) (peer.AddrInfo, bool) {
		id, err := m.ID()
		if err != nil || id == s.self {
			return peer.AddrInfo{}, false
		}
		addrs, _ := m.Multiaddrs()
		return peer.AddrInfo{ID: id, Addrs: addrs}, true
	}
	var out []peer.AddrInfo
	bridge := s.isBridge()
	for i, r := range s.host.Rosters() {
		for _, m := range r.Members {
			home, isBridge := i == 0, m.HasRole(roster.RoleBridge)
			if (bridge && (home || isBridge)) || (!bridge && home && isBridge) {
				if ai, ok := info(m); ok {
					out = append(out, ai)
				}
			}
		}
	}
	return out
}

// syncDirect brings the national router's direct peers in step with the
// rosters held (a bridge named or dropped, a member added or revoked, this
// node made or unmade a bridge).
func (s *Service) syncDirect() {
	want := map[peer.ID]peer.AddrInfo{}
	for _, ai := range s.nationalDirect() {
		want[ai.ID] = ai
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for id, ai := range want {
		if s.direct[id] {
			continue
		}
		if err := s.nps.AddDirectPeer(ai); err != nil {
			return // closing
		}
		s.direct[id] = true
	}
	for id := range s.direct {
		if _, ok := want[id]; ok {
			continue
		}
		if err := s.nps.RemoveDirectPeer(id); err != nil {
			return
		}
		delete(s.direct, id)
	}
}
