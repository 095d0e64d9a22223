package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "nrmnet/schemas/v1"
)

// outbound is one message this side owes its peer.
type outbound struct {
	typ    MessageType
	to     v1.AuthorityCode
	record []byte
	cid    string // of the case, for MsgCase
}

// deliver sends what this side owes for one hand-over until nothing is
// owed, retrying with backoff, until the service closes.
func (s *Relocations) deliver(id v1.ID) {
	defer s.wg.Done()
	wait := s.cfg.RetryMin
	for {
		var out *outbound
		err := s.do(s.ctx, func() error {
			var err error
			out, err = s.next(id)
			if out == nil && err == nil {
				delete(s.delivering, id)
			}
			return err
		})
		if errors.Is(err, ErrClosed) || s.ctx.Err() != nil {
			return
		}
		if err == nil && out == nil {
			return
		}
		if err == nil {
			var reply *decoded
			reply, err = s.send(out, id)
			if err == nil {
				err = s.do(s.ctx, func() error { return s.applyReply(id, out, reply) })
			}
		}
		if err == nil {
			wait = s.cfg.RetryMin
			continue
		}
		if s.ctx.Err() != nil {
			return
		}
		var d time.Duration
		d, wait = s.backoff(wait)
		s.log.Warn("relocation message not delivered; will retry", "request", string(id), "retry_in", d, "err", err)
		select {
		case <-time.After(d):
		case <-s.ctx.Done():
			return
		}
	}
}

// next builds the message owed for id, or nil. Moving from accepted to
// case_sent happens here: the case is exported and its share audited before
// the state that says so is stored, and stored before it is sent. Runs on
// the loop.
func (s *Relocations) next(id v1.ID) (*outbound, error) {
	h, ok, err := s.cfg.Store.Get(s.ctx, id)
	if err != nil || !ok || !owes(&h) {
		return nil, err
	}
	out := &outbound{to: h.Peer()}
	switch {
	case h.Side == SideDestination:
		out.typ = MsgDecision
		out.record, err = v1.Marshal(h.Decision)
	case h.State == StateRequested:
		out.typ = MsgOffer
		out.record, err = v1.Marshal(&h.Request)
	case h.State == StateRevoked:
		out.typ = MsgRevoke
		out.record, err = v1.Marshal(h.Decision)
	case h.State == StateCompleted:
		out.typ = MsgComplete
	default: // accepted or case_sent
		out.typ = MsgCase
		return s.nextCase(&h, out)
	}
	return out, err
}

func (s *Relocations) nextCase(h *Handover, out *outbound) (*outbound, error) {
	c, err := s.cfg.Cases.ExportCase(s.ctx, h.Request.CaseRef)
	if err != nil {
		return nil, fmt.Errorf("exporting case for %s: %w", h.ID(), err)
	}
	if c.ID != h.Request.CaseRef {
		return nil, s.fail(h, "the exported case is not the case requested")
	}
	if out.record, err = v1.Marshal(c); err != nil {
		// The error may quote case content: keep it out of records and logs.
		return nil, s.fail(h, "the exported case does not validate")
	}
	if out.cid, err = caseCID(c); err != nil {
		return nil, err
	}
	if h.State == StateCaseSent && h.CaseCID == out.cid {
		return out, nil // a resend of what was audited and recorded
	}
	if err := s.audit("node", v1.ActionShareSend, string(c.ID), h.Request.Destination, h.Request.LegalBasis,
		"accepted relocation "+string(h.ID())+": full case sent", ""); err != nil {
		return nil, err
	}
	h.State, h.CaseCID = StateCaseSent, out.cid
	if err := s.persist(h); err != nil {
		return nil, err
	}
	return out, nil
}

// fail records that delivery of h stopped for good. Runs on the loop.
func (s *Relocations) fail(h *Handover, why string) error {
	h.Failure = why
	s.log.Error("relocation hand-over needs a person", "request", string(h.ID()), "state", string(h.State), "why", why)
	if err := s.persist(h); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", errPermanent, why)
}

// send signs out, sends it on a new stream to the peer and returns the
// peer's verified reply.
func (s *Relocations) send(out *outbound, id v1.ID) (*decoded, error) {
	m, pid, err := s.member(out.to)
	if err != nil {
		return nil, err
	}
	frame, err := sealMessage(&message{Type: out.typ, From: s.cfg.Authority, To: out.to, Request: id,
		Sent: s.cfg.Now().UTC(), Record: out.record}, s.cfg.Identity)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.host.NewStream(ctx, pid, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("opening stream to %s: %w", out.to, err)
	}
	defer st.Close()
	dl, _ := ctx.Deadline()
	_ = st.SetDeadline(dl)
	if err := writeFrame(st, frame); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("sending %s to %s: %w", out.typ, out.to, err)
	}
	_ = st.CloseWrite()
	body, err := readFrame(st)
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("reading %s's reply: %w", out.to, err)
	}
	r, err := decodeMessage(body)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Type != MsgReply || r.InReplyTo != out.typ:
		return nil, fmt.Errorf("%w: %s answered a %s with a %s (re %s)", ErrBadMessage, out.to, out.typ, r.Type, r.InReplyTo)
	case r.From != out.to || r.To != s.cfg.Authority || r.Request != id:
		return nil, fmt.Errorf("%w: reply is from %s to %s about %s", ErrBadMessage, r.From, r.To, r.Request)
	case st.Conn().RemotePeer() != pid:
		return nil, fmt.Errorf("%w: reply came from another peer", ErrBadMessage)
	}
	pub, err := m.PublicKey()
	if err != nil {
		return nil, err
	}
	if err := r.verifySignature(pub); err != nil {
		return nil, err
	}
	return r, nil
}

// applyReply moves h on the peer's answer. Runs on the loop.
func (s *Relocations) applyReply(id v1.ID, out *outbound, r *decoded) error {
	h, err := s.get(id)
	if err != nil {
		return err
	}
	peerState := r.State
	if r.Refusal == RefusalUnavailable {
		return fmt.Errorf("%w: %s is unavailable", ErrRefused, out.to)
	}
	refused := func() error {
		return s.fail(&h, fmt.Sprintf("%s refused the %s: %s (its state: %s)", out.to, out.typ, r.Refusal, peerState))
	}
	switch out.typ {
	case MsgOffer:
		if h.State != StateRequested || h.Acked {
			return nil
		}
		if r.Refusal != RefusalNone {
			return refused()
		}
		h.Acked = true
		return s.persist(&h)
	case MsgRevoke:
		if h.State != StateRevoked || h.Acked {
			return nil
		}
		if r.Refusal != RefusalNone && r.Refusal != RefusalUnknown {
			return refused()
		}
		h.Acked = true // revoked there, rejected there first, or never offered there
		return s.persist(&h)
	case MsgCase:
		if h.State != StateCaseSent {
			return nil
		}
		if r.Refusal != RefusalNone {
			return refused()
		}
		if (peerState != StateReceived && peerState != StateCompleted) || r.CaseCID != out.cid || out.cid != h.CaseCID {
			return fmt.Errorf("%w: %s holds case %s in state %s; resending", ErrRefused, out.to, r.CaseCID, peerState)
		}
		if err := s.audit("node", ActionRelocationComplete, string(h.Request.CaseRef), out.to, h.Request.LegalBasis,
			"relocation "+string(id)+": receipt confirmed; case transferred out", ""); err != nil {
			return err
		}
		if err := s.cfg.Cases.MarkTransferredOut(s.ctx, h.Request); err != nil {
			return fmt.Errorf("marking case transferred out: %w", err)
		}
		h.State, h.Acked = StateCompleted, false
		return s.persist(&h)
	case MsgComplete:
		if h.State != StateCompleted || h.Acked {
			return nil
		}
		if r.Refusal != RefusalNone || peerState != StateCompleted {
			return refused()
		}
		h.Acked = true
		return s.persist(&h)
	case MsgDecision:
		if (h.State != StateAccepted && h.State != StateRejected) || h.Acked {
			return nil
		}
		if r.Refusal != RefusalNone {
			return refused()
		}
		if peerState == StateRevoked {
			// The origin revoked before our decision reached it: its record
			// decides, and the hand-over ends revoked on both sides.
			if err := s.audit("node", v1.ActionRelocationRevoke, string(id), out.to, h.Request.LegalBasis,
				"the origin revoked the request before this decision reached it", ""); err != nil {
				return err
			}
			h.State, h.Acked = StateRevoked, true
			return s.persist(&h)
		}
		ok := peerState == StateRejected
		if h.State == StateAccepted {
			ok = peerState == StateAccepted || peerState == StateCaseSent || peerState == StateCompleted
		}
		if !ok {
			return refused()
		}
		h.Acked = true
		return s.persist(&h)
	}
	return nil
}
