package rpc

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
	v1 "nrmnet/schemas/v1"
)

// handleStream answers one message from a peer. Anything malformed, forged
// or sent by the wrong peer is dropped (the stream is reset) before it
// reaches a record.
func (s *Relocations) handleStream(st network.Stream) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Reset()
		return
	}
	s.streams[st] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
		s.wg.Done()
	}()

	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	d, err := s.readMessage(st, remote)
	if err != nil {
		s.log.Warn("relocation message refused", "peer", remote.String(), "err", err)
		_ = st.Reset()
		return
	}
	var rep message
	if err := s.do(s.ctx, func() error { rep = s.handle(d); return nil }); err != nil {
		_ = st.Reset()
		return
	}
	rep.Type, rep.InReplyTo = MsgReply, d.Type
	rep.From, rep.To, rep.Request, rep.Sent = s.cfg.Authority, d.From, d.Request, s.cfg.Now().UTC()
	frame, err := sealMessage(&rep, s.cfg.Identity)
	if err == nil {
		err = writeFrame(st, frame)
	}
	if err != nil {
		s.log.Warn("relocation reply not sent", "request", string(d.Request), "err", err)
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// readMessage reads, decodes and authenticates one message: the sender is a
// roster member with the authority role, the stream comes from its peer, the
// signature is by its node key, and the message is addressed to us.
func (s *Relocations) readMessage(st network.Stream, remote peer.ID) (*decoded, error) {
	frame, err := readFrame(st)
	if err != nil {
		return nil, err
	}
	d, err := decodeMessage(frame)
	if err != nil {
		return nil, err
	}
	return d, s.authenticate(d, remote)
}

func (s *Relocations) authenticate(d *decoded, remote peer.ID) error {
	if d.Type == MsgReply {
		return fmt.Errorf("%w: an unsolicited reply", ErrBadMessage)
	}
	if d.To != s.cfg.Authority {
		return fmt.Errorf("%w: addressed to %s, not %s", ErrBadMessage, d.To, s.cfg.Authority)
	}
	l, ok := s.net.Lookup(d.From)
	m := l.Member
	if !ok || !m.HasRole(roster.RoleAuthority) {
		return fmt.Errorf("%w: %s is not an authority on the roster", ErrBadMessage, d.From)
	}
	id, err := m.ID()
	if err != nil || id != remote {
		return fmt.Errorf("%w: message claims to be from %s but came from another peer", ErrBadMessage, d.From)
	}
	pub, err := m.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: %s's key: %w", ErrBadMessage, d.From, err)
	}
	if err := d.verifySignature(pub); err != nil {
		return err
	}
	if d.Sent.After(s.cfg.Now().Add(maxSkew)) {
		return fmt.Errorf("%w: sent %s, in the future", ErrBadMessage, d.Sent.UTC().Format(time.RFC3339))
	}
	return nil
}

// handle applies an authenticated message and returns the reply's state and
// refusal. A refused message changes nothing. Runs on the loop.
func (s *Relocations) handle(d *decoded) message {
	h, ok, err := s.cfg.Store.Get(s.ctx, d.Request)
	if err != nil {
		s.log.Error("reading hand-over", "request", string(d.Request), "err", err)
		return message{Refusal: RefusalUnavailable}
	}
	if d.Type == MsgOffer {
		return s.handleOffer(d, h, ok)
	}
	if !ok {
		return message{Refusal: RefusalUnknown}
	}
	// Only the origin sends offers, revokes, cases and completions; only the
	// destination sends decisions. The sender must be that side's authority.
	wantSide, wantFrom := SideDestination, h.Request.Origin
	if d.Type == MsgDecision {
		wantSide, wantFrom = SideOrigin, h.Request.Destination
	}
	if h.Side != wantSide || d.From != wantFrom {
		s.log.Warn("relocation message from the wrong authority", "request", string(d.Request), "type", string(d.Type), "from", string(d.From))
		return message{Refusal: RefusalForbidden, State: h.State}
	}
	var rep message
	switch d.Type {
	case MsgDecision:
		rep, err = s.handleDecision(d, &h)
	case MsgRevoke:
		rep, err = s.handleRevoke(d, &h)
	case MsgCase:
		rep, err = s.handleCase(d, &h)
	case MsgComplete:
		rep, err = s.handleComplete(&h)
	}
	if err != nil {
		s.log.Error("relocation step failed; the peer will retry", "request", string(d.Request), "type", string(d.Type), "err", err)
		return message{Refusal: RefusalUnavailable}
	}
	return rep
}

func stateReply(h *Handover) message { return message{State: h.State, CaseCID: h.CaseCID} }

func (s *Relocations) handleOffer(d *decoded, h Handover, exists bool) message {
	req := d.request
	if exists {
		if h.Side != SideDestination || !sameRequest(&h.Request, req) {
			return message{Refusal: RefusalConflict}
		}
		return message{State: h.State}
	}
	if req.RequestedAt.After(s.cfg.Now().Add(maxSkew)) {
		return message{Refusal: RefusalConflict}
	}
	if err := s.audit("node", ActionRelocationReceive, string(req.ID), req.Origin, req.LegalBasis,
		"relocation request received from "+string(req.Origin)+" (summary without identity)", ""); err != nil {
		s.log.Error("auditing an offer", "request", string(req.ID), "err", err)
		return message{Refusal: RefusalUnavailable}
	}
	h = Handover{Request: *req, Side: SideDestination, State: StateOffered, Acked: true}
	if err := s.persist(&h); err != nil {
		s.log.Error("storing an offer", "request", string(req.ID), "err", err)
		return message{Refusal: RefusalUnavailable}
	}
	return message{State: h.State}
}

// handleDecision, on the origin: the destination accepts or rejects.
func (s *Relocations) handleDecision(d *decoded, h *Handover) (message, error) {
	resp := d.response
	switch h.State {
	case StateRequested:
	case StateRevoked:
		return stateReply(h), nil // the revoke came first; the destination follows
	default:
		if h.Decision != nil && h.Decision.Decision == resp.Decision {
			return stateReply(h), nil // a repeat
		}
		return message{Refusal: RefusalConflict, State: h.State}, nil
	}
	action, state := v1.ActionRelocationAccept, StateAccepted
	if resp.Decision == v1.RelocationReject {
		action, state = v1.ActionRelocationReject, StateRejected
	}
	if err := s.audit("node", action, string(h.Request.CaseRef), h.Request.Destination, h.Request.LegalBasis,
		"relocation "+string(h.ID())+": decision of the destination recorded", resp.Reason); err != nil {
		return message{}, err
	}
	h.State, h.Decision, h.Acked = state, resp, true
	if err := s.persist(h); err != nil {
		return message{}, err
	}
	return stateReply(h), nil
}

// handleRevoke, on the destination: the origin withdraws before acceptance.
// The origin's record decides a race with our decision: until the origin
// has acknowledged our accept or reject, its revoke wins.
func (s *Relocations) handleRevoke(d *decoded, h *Handover) (message, error) {
	switch {
	case h.State == StateRevoked:
		return stateReply(h), nil
	case h.State == StateOffered, (h.State == StateAccepted || h.State == StateRejected) && !h.Acked:
	case h.State == StateRejected:
		return stateReply(h), nil
	default:
		return message{Refusal: RefusalAlreadyAccepted, State: h.State}, nil
	}
	if err := s.audit("node", v1.ActionRelocationRevoke, string(h.ID()), h.Request.Origin, h.Request.LegalBasis,
		"relocation request revoked by the origin", d.response.Reason); err != nil {
		return message{}, err
	}
	h.State, h.Decision, h.Acked = StateRevoked, d.response, true
	if err := s.persist(h); err != nil {
		return message{}, err
	}
	return stateReply(h), nil
}

// handleCase, on the destination: the full case of an accepted relocation.
// It is installed provisionally; the origin stays responsible until it has
// our receipt and has marked the case transferred out.
func (s *Relocations) handleCase(d *decoded, h *Handover) (message, error) {
	c := d.kase
	if c.ID != h.Request.CaseRef {
		return message{Refusal: RefusalConflict, State: h.State}, nil
	}
	cid, err := caseCID(c)
	if err != nil {
		return message{}, err
	}
	switch h.State {
	case StateAccepted:
	case StateReceived:
		if cid == h.CaseCID {
			return stateReply(h), nil
		}
		// A newer copy while the origin is still responsible replaces ours.
	case StateCompleted:
		if cid == h.CaseCID {
			return stateReply(h), nil
		}
		return message{Refusal: RefusalConflict, State: h.State}, nil
	default:
		return message{Refusal: RefusalWrongState, State: h.State}, nil
	}
	if err := s.cfg.Intake.InstallCase(s.ctx, h.Request, c); err != nil {
		return message{}, fmt.Errorf("installing case: %w", err)
	}
	if err := s.audit("node", v1.ActionShareReceive, string(c.ID), h.Request.Origin, h.Request.LegalBasis,
		"accepted relocation "+string(h.ID())+": full case received", ""); err != nil {
		return message{}, err
	}
	h.State, h.CaseCID, h.Acked = StateReceived, cid, true
	if err := s.persist(h); err != nil {
		return message{}, err
	}
	return stateReply(h), nil
}

// handleComplete, on the destination: the origin has transferred the case
// out; we take responsibility.
func (s *Relocations) handleComplete(h *Handover) (message, error) {
	switch h.State {
	case StateCompleted:
		return stateReply(h), nil
	case StateReceived:
	default:
		return message{Refusal: RefusalWrongState, State: h.State}, nil
	}
	if err := s.audit("node", ActionRelocationComplete, string(h.Request.CaseRef), h.Request.Origin, h.Request.LegalBasis,
		"relocation "+string(h.ID())+": responsibility taken from the origin", ""); err != nil {
		return message{}, err
	}
	if err := s.cfg.Intake.ActivateCase(s.ctx, h.Request); err != nil {
		return message{}, fmt.Errorf("activating case: %w", err)
	}
	h.State = StateCompleted
	if err := s.persist(h); err != nil {
		return message{}, err
	}
	return stateReply(h), nil
}
