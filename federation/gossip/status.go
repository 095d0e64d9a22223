package gossip

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// RegionView is the state of a region's federation as one node sees it from
// the heartbeats it received: what a coordinator's dashboard shows.
type RegionView struct {
	Region       string
	At           time.Time
	RosterSerial uint64
	// Members lists every member of the roster in force, by authority code.
	Members []MemberStatus
}

// MemberStatus is one member in a RegionView.
type MemberStatus struct {
	Authority v1.AuthorityCode
	PeerID    string
	Roles     []roster.Role
	Self      bool
	// Up is true when a heartbeat arrived within DownAfter.
	Up bool
	// LastSeen is when its latest heartbeat arrived; zero if none has.
	LastSeen time.Time
	// Heartbeat is its latest heartbeat (version, uptime, peers, panels,
	// outbox depth, overdue counts, checkpoint); nil if none has arrived.
	Heartbeat *Heartbeat
	// CheckpointConflict is set once it published an inconsistent audit
	// checkpoint; it stays set until this node restarts.
	CheckpointConflict bool
	// AuditVerified is its audit checkpoint this node last verified, with
	// audit proofs on (EnableAuditProofs): each one proved an extension of
	// the one before, the first one seen taken on trust. Size 0: none yet.
	AuditVerified   Checkpoint
	AuditVerifiedAt time.Time
	// AuditUnverified says why its latest checkpoint is not verified yet
	// ("proof pending", "member did not answer", a conflict reason); empty
	// when it is, or with audit proofs off.
	AuditUnverified string
}

// Up counts the members shown up.
func (v RegionView) Up() int {
	n := 0
	for _, m := range v.Members {
		if m.Up {
			n++
		}
	}
	return n
}

// Member returns the status of one authority.
func (v RegionView) Member(code v1.AuthorityCode) (MemberStatus, bool) {
	for _, m := range v.Members {
		if m.Authority == code {
			return m, true
		}
	}
	return MemberStatus{}, false
}

// CheckpointConflict is an audit checkpoint a member published that cannot
// follow the one it published before: the same size with a different root
// (two histories), a smaller size (a history cut short), or, with audit
// proofs on, a larger size the member cannot prove an extension of the
// checkpoint verified before (a history rewritten, then grown). Each means
// the member's audit log was rewritten or forked, and a person must look.
type CheckpointConflict struct {
	Authority v1.AuthorityCode
	Previous  Checkpoint
	Got       Checkpoint
	Reason    string
	// Detail is why the proof failed (ConflictInconsistent only).
	Detail string
	At     time.Time
	// Reference is the member's signed heartbeat that carried Previous,
	// when this node kept it; Heartbeat the signed heartbeat that carried
	// Got. Each is signed with the member's authority key
	// (VerifyHeartbeat), so together they show, to anyone holding the
	// roster, that the member published both checkpoints.
	Reference, Heartbeat []byte
}

// Conflict reasons (and ConflictInconsistent, in proofcheck.go).
const (
	ConflictForked = "same size, different root"
	ConflictShrunk = "smaller than before"
)

// memberState is what the status loop keeps per authority.
type memberState struct {
	hb         *Heartbeat
	lastSeen   time.Time
	checkpoint Checkpoint // the latest consistent checkpoint
	// checkpointHB is the signed heartbeat that carried checkpoint.
	checkpointHB []byte
	conflict     bool
	raised       Checkpoint // the last inconsistent checkpoint alarmed on
}

// AcceptAuditHistory is what an operator does once they have confirmed
// with a member's authority that its audit log was legitimately replaced
// (restored from a backup, say), so that its checkpoints no longer extend
// the one this node verified: this node forgets the checkpoints it holds
// for the member and the conflict it raised, and takes the member's next
// checkpoint on trust, proving each growth from there as before. It is
// logged at Warn; the node audits who asked and why. A member of another
// region, or this node itself, is refused.
func (s *Service) AcceptAuditHistory(ctx context.Context, code v1.AuthorityCode) error {
	if code == s.me {
		return fmt.Errorf("%w: %s is this node; its own audit log is checked by 'nrmnet audit verify'", ErrNotMember, code)
	}
	if _, ok := s.host.Roster().Member(authority.Code(code)); !ok {
		return fmt.Errorf("%w: %.16q is not a member of this region's roster in force", ErrNotMember, code)
	}
	select {
	case s.accepted <- code:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
	if pc := s.auditProofs(); pc != nil {
		done := make(chan error, 1)
		select {
		case pc.accepts <- acceptRequest{code: code, done: done}:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		}
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.log.Warn("an operator accepted a member's new audit history; its next checkpoint is taken on trust", "authority", code)
	return nil
}

// RegionView returns the region's view now.
func (s *Service) RegionView() RegionView {
	reply := make(chan RegionView, 1)
	select {
	case s.views <- reply:
		return <-reply
	case <-s.ctx.Done():
		return RegionView{Region: s.region, At: s.now()}
	}
}

// statusLoop owns the per-member state: heartbeats in, views out.
func (s *Service) statusLoop() {
	defer s.wg.Done()
	members := map[v1.AuthorityCode]*memberState{}
	for {
		select {
		case <-s.ctx.Done():
			return
		case hb := <-s.beats:
			s.recordHeartbeat(members, hb)
		case code := <-s.accepted:
			if st := members[code]; st != nil {
				st.checkpoint, st.checkpointHB, st.conflict, st.raised = Checkpoint{}, nil, false, Checkpoint{}
			}
		case reply := <-s.views:
			reply <- s.buildView(members)
		}
	}
}

func (s *Service) recordHeartbeat(members map[v1.AuthorityCode]*memberState, hb *Heartbeat) {
	st := members[hb.Authority]
	if st == nil {
		st = &memberState{}
		members[hb.Authority] = st
	}
	if st.hb != nil && !hb.SentAt.After(st.hb.SentAt) {
		s.metrics.ignored.WithLabelValues(labelStatus, reasonStale).Inc()
		return
	}
	st.hb, st.lastSeen = hb, s.now()
	if pc := s.auditProofs(); pc != nil {
		pc.observe(hb) // it keeps the checkpoints and raises the conflicts
		return
	}
	cp := hb.Checkpoint
	if cp.Size == 0 && len(cp.Root) == 0 {
		return // the node reports no audit log yet
	}
	prev := st.checkpoint
	reason := ""
	switch {
	case prev.Size == 0 && len(prev.Root) == 0:
	case cp.Size == prev.Size && !bytes.Equal(cp.Root, prev.Root):
		reason = ConflictForked
	case cp.Size < prev.Size:
		reason = ConflictShrunk
	}
	if reason == "" {
		st.checkpoint = Checkpoint{Size: cp.Size, Root: slices.Clone(cp.Root)}
		st.checkpointHB = signedHeartbeat(hb)
		return
	}
	st.conflict = true
	if cp.Size == st.raised.Size && bytes.Equal(cp.Root, st.raised.Root) {
		return // already raised; the member keeps publishing it
	}
	st.raised = Checkpoint{Size: cp.Size, Root: slices.Clone(cp.Root)}
	s.raiseConflict(CheckpointConflict{Authority: hb.Authority, Previous: prev, Got: cp, Reason: reason, At: s.now(),
		Reference: st.checkpointHB, Heartbeat: signedHeartbeat(hb)})
}

// raiseConflict counts, logs and hands a conflict to the observer.
func (s *Service) raiseConflict(c CheckpointConflict) {
	s.metrics.conflicts.Inc()
	s.log.Error("audit checkpoint conflict: a member's audit log was rewritten or forked; a person must look",
		"authority", c.Authority, "reason", c.Reason, "detail", c.Detail, "previous_size", c.Previous.Size, "size", c.Got.Size)
	select {
	case s.conflict <- c:
	default:
		s.log.Error("checkpoint conflict observer is behind; conflict only logged", "authority", c.Authority)
	}
}

func (s *Service) buildView(members map[v1.AuthorityCode]*memberState) RegionView {
	r := s.host.Roster()
	now := s.now()
	v := RegionView{Region: r.Region, At: now, RosterSerial: r.Serial}
	pc := s.auditProofs()
	for _, m := range r.Members {
		ms := MemberStatus{Authority: m.Authority, PeerID: m.PeerID, Roles: slices.Clone(m.Roles), Self: m.PeerID == s.self.String()}
		if st := members[m.Authority]; st != nil {
			ms.LastSeen = st.lastSeen
			ms.Up = now.Sub(st.lastSeen) < s.cfg.DownAfter
			hb := *st.hb
			ms.Heartbeat = &hb
			ms.CheckpointConflict = st.conflict
		}
		if pc != nil && !ms.Self {
			pc.fill(&ms)
		}
		v.Members = append(v.Members, ms)
	}
	slices.SortFunc(v.Members, func(a, b MemberStatus) int {
		switch {
		case a.Authority < b.Authority:
			return -1
		case a.Authority > b.Authority:
			return 1
		}
		return 0
	})
	return v
}

// heartbeatLoop publishes this node's heartbeat now and every interval.
func (s *Service) heartbeatLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		s.beat()
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Service) beat() {
	hb := &Heartbeat{
		Authority:   s.me,
		Region:      s.region,
		SentAt:      s.now().UTC(),
		StartedAt:   s.started,
		Version:     s.cfg.Version,
		Peers:       uint32(s.connectedMembers()),
		OutboxDepth: uint32(max(0, s.cfg.Outbox.OutboxDepth())),
	}
	if s.cfg.Status != nil {
		rep := s.cfg.Status()
		hb.Panels, hb.Overdue = rep.Panels, rep.Overdue
		hb.Checkpoint = Checkpoint{Size: rep.Checkpoint.Size, Root: slices.Clone(rep.Checkpoint.Root)}
	}
	msg, err := hb.SigningBytes()
	if err != nil {
		s.log.Error("heartbeat", "err", err)
		return
	}
	hb.Signature = ed25519.Sign(s.cfg.Identity, msg)
	env, err := MarshalHeartbeat(hb)
	if err != nil {
		s.log.Error("heartbeat invalid; not published", "err", err)
		return
	}
	select {
	case s.beats <- hb: // our own row in the view
	case <-s.ctx.Done():
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	if err := s.publishOn(ctx, StatusTopic(s.region), env); err != nil {
		s.log.Debug("heartbeat not published", "err", err)
		return
	}
	s.metrics.published.WithLabelValues(labelStatus).Inc()
}
