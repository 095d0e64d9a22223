package gossip

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
	v1 "nrmnet/schemas/v1"
)

// incoming is a validated alert on its way to the node.
type incoming struct {
	alert    *v1.CrossBorderAlert
	envelope []byte
	from     peer.ID
	via      string
}

// ackJob is an acknowledgement to send to an alert's issuer.
type ackJob struct {
	alert  v1.ID
	issuer v1.AuthorityCode
}

// AckReceived is a valid acknowledgement of an alert this node issued.
type AckReceived struct {
	Ack v1.AlertAck
	// Complete is true when this was the last target to acknowledge.
	Complete bool
}

// ack responses, one byte.
const (
	ackRecorded byte = 0 // the outbox recorded it (or it was already complete)
	ackRefused  byte = 1 // the ack was invalid
	ackFailed   byte = 2 // the outbox could not record it
)

// inboxLoop is the one goroutine that hands alerts to the node, records
// them as seen and queues their acknowledgements: gossip and digest copies
// of one alert meet here, so the handler sees each alert once.
func (s *Service) inboxLoop() {
	defer s.wg.Done()
	var spread peer.ID // a peer of another region we fetched alerts from
	for {
		select {
		case <-s.ctx.Done():
			return
		case in := <-s.inbox:
			if s.deliver(in) && in.via == "digest" && s.fromOtherRegion(in.from) {
				spread = in.from
			}
			if spread != "" && len(s.inbox) == 0 {
				s.spreadFromOtherRegion(spread)
				spread = ""
			}
		}
	}
}

// fromOtherRegion reports whether this node is a bridge and p a member of
// another region.
func (s *Service) fromOtherRegion(p peer.ID) bool {
	l, ok := s.host.LookupPeer(p)
	return ok && l.Region != s.region && s.isBridge()
}

func (s *Service) targetsMe(a *v1.CrossBorderAlert) bool {
	m, ok := s.host.Roster().MemberByPeer(s.self)
	return ok && m.HasRole(roster.RoleAuthority) && isTargeted(a, s.me, s.region)
}

// deliver hands one alert over and records it; it reports whether the alert
// was newly recorded.
func (s *Service) deliver(in incoming) bool {
	a := in.alert
	if a.Issuer == s.me {
		return false
	}
	_, _, found, err := s.cfg.Seen.GetSeen(a.ID)
	if err != nil {
		s.log.Error("read seen alerts", "alert", a.ID, "err", err)
		return false
	}
	targeted := s.targetsMe(a)
	if found {
		if targeted {
			s.queueAck(a)
		}
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	if targeted {
		err := s.cfg.Handler.HandleAlert(ctx, Received{Alert: a, Envelope: in.envelope, From: in.from, Via: in.via})
		if err != nil {
			s.metrics.handlerErrors.Inc()
			s.log.Error("alert handler failed; the alert stays unacknowledged", "alert", a.ID, "err", err)
			return false
		}
	}
	if _, err := s.cfg.Seen.PutSeen(ctx, a.ID, s.now().UTC(), a.ExpiresAt, in.envelope); err != nil {
		s.log.Error("record seen alert; it stays unacknowledged", "alert", a.ID, "err", err)
		return false
	}
	if in.via == "digest" {
		s.metrics.repaired.Inc()
	}
	s.log.Info("alert received", "alert", a.ID, "issuer", a.Issuer, "via", in.via, "targeted", targeted)
	if targeted {
		s.queueAck(a)
	}
	return true
}

// maybeAck queues a fresh acknowledgement of an alert already held, when it
// targets this node (the issuer is re-publishing because ours was lost).
func (s *Service) maybeAck(a *v1.CrossBorderAlert, author peer.ID) {
	if a.Issuer == s.me || !s.targetsMe(a) {
		return
	}
	s.queueAck(a)
}

func (s *Service) queueAck(a *v1.CrossBorderAlert) {
	select {
	case s.acks <- ackJob{alert: a.ID, issuer: a.Issuer}:
	default:
		s.metrics.acksSent.WithLabelValues("dropped").Inc()
	}
}

// ackLoop signs and sends acknowledgements, one at a time. A failed send is
// not retried here: the issuer re-publishes until it has our ack, and every
// copy we receive queues a new one.
func (s *Service) ackLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.acks:
			if err := s.sendAck(j); err != nil {
				s.metrics.acksSent.WithLabelValues("failed").Inc()
				s.log.Debug("acknowledgement not delivered", "alert", j.alert, "issuer", j.issuer, "err", err)
			} else {
				s.metrics.acksSent.WithLabelValues("recorded").Inc()
			}
		}
	}
}

func (s *Service) sendAck(j ackJob) error {
	l, ok := s.host.Lookup(j.issuer)
	if !ok {
		return fmt.Errorf("%w: issuer %s", ErrNotMember, j.issuer)
	}
	to, err := l.Member.ID()
	if err != nil {
		return err
	}
	ack := v1.AlertAck{AlertID: j.alert, Issuer: j.issuer, From: s.me, ReceivedAt: s.now().UTC()}
	msg, err := ack.SigningBytes()
	if err != nil {
		return err
	}
	ack.Signature = ed25519.Sign(s.cfg.Identity, msg)
	env, err := v1.Marshal(&ack)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.host.Libp2p().NewStream(ctx, to, AckProtocol)
	if err != nil {
		return err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	if s.tap != nil {
		s.tap("send ack", env)
	}
	if err := writeFrame(st, env); err != nil {
		st.Reset()
		return err
	}
	if err := st.CloseWrite(); err != nil {
		st.Reset()
		return err
	}
	var resp [1]byte
	if _, err := st.Read(resp[:]); err != nil {
		return fmt.Errorf("read ack response: %w", err)
	}
	switch resp[0] {
	case ackRecorded:
		return nil
	case ackRefused:
		return errors.New("issuer refused the acknowledgement")
	default:
		return errors.New("issuer could not record the acknowledgement")
	}
}

// serveAck handles one acknowledgement from a target of our alert.
func (s *Service) serveAck(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	status := s.recordAck(st)
	if _, err := st.Write([]byte{status}); err != nil {
		st.Reset()
	}
}

func (s *Service) recordAck(st network.Stream) byte {
	remote := st.Conn().RemotePeer()
	b, err := readFrame(bufio.NewReader(st), maxAckFrame)
	if err != nil {
		s.metrics.acksReceived.WithLabelValues("malformed").Inc()
		s.log.Warn("acknowledgement unreadable", "from", remote, "err", err)
		return ackRefused
	}
	if s.tap != nil {
		s.tap("receive ack", b)
	}
	ack, err := decodeAck(b)
	if err != nil {
		s.metrics.acksReceived.WithLabelValues("malformed").Inc()
		s.log.Warn("acknowledgement malformed", "from", remote, "err", err)
		return ackRefused
	}
	if err := s.checkAck(ack, remote); err != nil {
		s.metrics.acksReceived.WithLabelValues("refused").Inc()
		s.log.Warn("acknowledgement refused", "from", remote, "alert", ack.AlertID, "err", err)
		return ackRefused
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	complete, err := s.cfg.Outbox.AckOutbox(ctx, ack.AlertID, ack.From)
	if err != nil {
		// Most often the alert is no longer in the outbox: every target
		// acknowledged or it expired.
		s.metrics.acksReceived.WithLabelValues("not_recorded").Inc()
		s.log.Debug("acknowledgement not recorded", "from", ack.From, "alert", ack.AlertID, "err", err)
		return ackFailed
	}
	s.metrics.acksReceived.WithLabelValues("recorded").Inc()
	if complete {
		s.log.Info("alert acknowledged by every target", "alert", ack.AlertID)
	}
	// The ack is recorded; the observer is told unless it is so far behind
	// that waiting would hold this stream past its deadline.
	select {
	case s.acked <- AckReceived{Ack: *ack, Complete: complete}:
	case <-s.ctx.Done():
	case <-time.After(s.cfg.StreamTimeout / 2):
		s.log.Error("ack observer is behind; acknowledgement recorded but not reported", "alert", ack.AlertID, "from", ack.From)
	}
	return ackRecorded
}

// checkAck checks that an acknowledgement is for an alert of ours and was
// signed by the member that sent it.
func (s *Service) checkAck(ack *v1.AlertAck, remote peer.ID) error {
	if ack.Issuer != s.me {
		return fmt.Errorf("%w: ack for an alert of %s", ErrNotIssuer, ack.Issuer)
	}
	l, ok := s.host.LookupPeer(remote)
	m := l.Member
	if !ok || !m.HasRole(roster.RoleAuthority) {
		return fmt.Errorf("%w: sender %s", ErrNotMember, remote)
	}
	if m.Authority != ack.From {
		return fmt.Errorf("%w: %s sent an ack from %s", ErrNotMember, m.Authority, ack.From)
	}
	pub, err := m.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	msg, err := ack.SigningBytes()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !ed25519.Verify(pub, msg, ack.Signature) {
		return fmt.Errorf("%w: ack of %s by %s", ErrBadSignature, ack.AlertID, ack.From)
	}
	return nil
}

// observerLoop calls the configured observers, in order, on one goroutine.
func (s *Service) observerLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case c := <-s.conflict:
			if s.cfg.OnCheckpointConflict != nil {
				s.cfg.OnCheckpointConflict(c)
			}
		case a := <-s.acked:
			if s.cfg.OnAck != nil {
				s.cfg.OnAck(a)
			}
		}
	}
}
