package gossip

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
	v1 "nrmnet/schemas/v1"
)

// verdict is a validator's decision with the reason it is counted under.
type verdict struct {
	result pubsub.ValidationResult
	reason string
	err    error
}

// Reasons a message is refused. Reject: the sender is at fault; Ignore: the
// message is merely stale or already held.
const (
	reasonMalformed      = "malformed"
	reasonSignerUnknown  = "signer_not_member"
	reasonSignerRole     = "signer_role"
	reasonIssuerUnknown  = "issuer_not_member"
	reasonIssuerMismatch = "issuer_not_signer"
	reasonBadSignature   = "bad_signature"
	reasonWrongRegion    = "wrong_region"
	reasonWrongTopic     = "wrong_topic"
	reasonExpired        = "expired"
	reasonFuture         = "not_yet_valid"
	reasonDuplicate      = "duplicate"
	reasonReplay         = "replay"
	reasonStale          = "stale"
	reasonStoreError     = "store_error"
)

func accept() verdict { return verdict{result: pubsub.ValidationAccept} }

func reject(reason string, err error) verdict {
	return verdict{result: pubsub.ValidationReject, reason: reason, err: err}
}

func ignore(reason string, err error) verdict {
	return verdict{result: pubsub.ValidationIgnore, reason: reason, err: err}
}

// validateAlertOn returns the validator of an alert topic.
func (s *Service) validateAlertOn(topic, label string) pubsub.ValidatorEx {
	return func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if s.tap != nil {
			s.tap("receive "+topic, msg.Data)
		}
		author := msg.GetFrom()
		a, v := s.checkAlert(msg.Data, author, topic)
		if v.result == pubsub.ValidationAccept {
			msg.ValidatorData = a
			if from != s.self {
				s.metrics.delivered.WithLabelValues(label).Inc()
			}
			return v.result
		}
		if from == s.self {
			// Our own re-publish of an alert we hold: let it out.
			if v.reason == reasonDuplicate || v.reason == reasonReplay {
				msg.ValidatorData = a
				return pubsub.ValidationAccept
			}
		}
		s.count(label, v, from, a)
		// The issuer re-publishes while it lacks our acknowledgement: a
		// duplicate from the issuer itself is answered with a fresh ack.
		if (v.reason == reasonDuplicate || v.reason == reasonReplay) && author != s.self && a != nil {
			s.maybeAck(a, author)
		}
		return v.result
	}
}

// count records a refusal in metrics and logs.
func (s *Service) count(label string, v verdict, from peer.ID, a *v1.CrossBorderAlert) {
	id := v1.ID("")
	if a != nil {
		id = a.ID
	}
	switch v.result {
	case pubsub.ValidationReject:
		s.metrics.rejected.WithLabelValues(label, v.reason).Inc()
		s.log.Warn("message rejected", "topic", label, "reason", v.reason, "from", from, "alert", id, "err", v.err)
	case pubsub.ValidationIgnore:
		s.metrics.ignored.WithLabelValues(label, v.reason).Inc()
		s.log.Debug("message ignored", "topic", label, "reason", v.reason, "from", from, "alert", id, "err", v.err)
	}
}

// checkAlert validates an alert envelope: author is the peer that signed
// the pubsub message (empty when the alert came by digest), topic the topic
// it came on ("" by digest). It returns the alert whenever it decoded.
func (s *Service) checkAlert(data []byte, author peer.ID, topic string) (*v1.CrossBorderAlert, verdict) {
	a, err := decodeAlert(data)
	if err != nil {
		return nil, reject(reasonMalformed, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	// The pubsub signer: a member with the authority role, and the issuer.
	// Members are looked up on this region's roster and, for alerts that
	// cross regions, on the other regions' rosters this node holds.
	if author != "" {
		l, ok := s.host.LookupPeer(author)
		if !ok {
			return a, reject(reasonSignerUnknown, fmt.Errorf("%w: pubsub signer %s", ErrNotMember, author))
		}
		if !l.Member.HasRole(roster.RoleAuthority) {
			return a, reject(reasonSignerRole, fmt.Errorf("%w: pubsub signer %s lacks the authority role", ErrNotMember, l.Member.Authority))
		}
	}
	listing, ok := s.host.Lookup(a.Issuer)
	if !ok {
		return a, reject(reasonIssuerUnknown, fmt.Errorf("%w: issuer %s", ErrNotMember, a.Issuer))
	}
	issuer := listing.Member
	if !issuer.HasRole(roster.RoleAuthority) {
		return a, reject(reasonSignerRole, fmt.Errorf("%w: issuer %s lacks the authority role", ErrNotMember, a.Issuer))
	}
	if author != "" && issuer.PeerID != author.String() {
		return a, reject(reasonIssuerMismatch, fmt.Errorf("%w: %s published an alert issued by %s", ErrNotMember, author, a.Issuer))
	}
	if err := verifyAlert(a, issuer); err != nil {
		return a, reject(reasonBadSignature, err)
	}
	// Region and topic. An issuer of another region may reach this node
	// only on the national topic (or by digest, for an alert that belongs
	// there); its region is the one its own region's anchors vouched for.
	home := regionOf(a.Issuer)
	if home != listing.Region {
		return a, reject(reasonWrongRegion, fmt.Errorf("issuer %s is not in region %s", a.Issuer, listing.Region))
	}
	want := topicFor(a, home)
	if home != s.region && want != NationalTopic {
		return a, reject(reasonWrongRegion, fmt.Errorf("an alert of %s for its own region only (%s) reached %s", a.Issuer, home, s.region))
	}
	if topic != "" && want != topic {
		return a, reject(reasonWrongTopic, fmt.Errorf("alert belongs on %s", want))
	}
	// Freshness.
	now := s.now()
	if !a.ExpiresAt.After(now) {
		return a, ignore(reasonExpired, fmt.Errorf("%w at %s", ErrExpired, a.ExpiresAt))
	}
	if a.IssuedAt.After(now.Add(s.cfg.ClockSkew)) {
		return a, ignore(reasonFuture, fmt.Errorf("issued at %s, in the future", a.IssuedAt))
	}
	// Replay: held already, in this run or an earlier one.
	_, seenAt, found, err := s.cfg.Seen.GetSeen(a.ID)
	if err != nil {
		return a, ignore(reasonStoreError, err)
	}
	if found {
		if seenAt.Before(s.started) {
			return a, ignore(reasonReplay, nil)
		}
		return a, ignore(reasonDuplicate, nil)
	}
	return a, accept()
}

// verifyAlert checks an alert's issuer signature under the member's key.
func verifyAlert(a *v1.CrossBorderAlert, issuer roster.Member) error {
	pub, err := issuer.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: issuer %s key: %v", ErrBadSignature, a.Issuer, err)
	}
	msg, err := a.SigningBytes()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !ed25519.Verify(pub, msg, a.Signature) {
		return fmt.Errorf("%w: alert %s does not verify under issuer %s's key", ErrBadSignature, a.ID, a.Issuer)
	}
	return nil
}

// validateHeartbeat is the status topic's validator.
func (s *Service) validateHeartbeat(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if s.tap != nil {
		s.tap("receive "+StatusTopic(s.region), msg.Data)
	}
	hb, v := s.checkHeartbeat(msg.Data, msg.GetFrom())
	if v.result == pubsub.ValidationAccept {
		msg.ValidatorData = hb
		if from != s.self {
			s.metrics.delivered.WithLabelValues(labelStatus).Inc()
		}
	} else {
		s.count(labelStatus, v, from, nil)
	}
	return v.result
}

func (s *Service) checkHeartbeat(data []byte, author peer.ID) (*Heartbeat, verdict) {
	hb, err := UnmarshalHeartbeat(data)
	if err != nil {
		return nil, reject(reasonMalformed, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	if len(hb.Signature) == 0 {
		return nil, reject(reasonMalformed, fmt.Errorf("%w: heartbeat unsigned", ErrMalformed))
	}
	r := s.host.Roster()
	m, ok := r.MemberByPeer(author)
	if !ok {
		return nil, reject(reasonSignerUnknown, fmt.Errorf("%w: pubsub signer %s", ErrNotMember, author))
	}
	if v1.AuthorityCode(m.Authority) != hb.Authority {
		return nil, reject(reasonIssuerMismatch, fmt.Errorf("%w: %s sent a heartbeat for %s", ErrNotMember, m.Authority, hb.Authority))
	}
	if hb.Region != s.region {
		return nil, reject(reasonWrongRegion, fmt.Errorf("heartbeat for region %q on %s", hb.Region, s.region))
	}
	pub, err := m.PublicKey()
	if err != nil {
		return nil, reject(reasonBadSignature, fmt.Errorf("%w: %v", ErrBadSignature, err))
	}
	sb, err := hb.SigningBytes()
	if err != nil || !ed25519.Verify(pub, sb, hb.Signature) {
		return nil, reject(reasonBadSignature, fmt.Errorf("%w: heartbeat of %s", ErrBadSignature, hb.Authority))
	}
	now := s.now()
	if hb.SentAt.After(now.Add(s.cfg.ClockSkew)) {
		return nil, ignore(reasonFuture, errors.New("heartbeat from the future"))
	}
	if hb.SentAt.Before(now.Add(-s.cfg.DownAfter)) {
		return nil, ignore(reasonStale, errors.New("heartbeat older than DownAfter"))
	}
	return hb, accept()
}
