package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/tlog"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// PeerCheckpoints keeps, for each member, the audit checkpoint this node
// last verified, durably (synced before PutPeerCheckpoint returns).
// *storage.Store implements it.
type PeerCheckpoints interface {
	// PeerCheckpoint returns the checkpoint recorded for a member; found is
	// false if there is none.
	PeerCheckpoint(code v1.AuthorityCode) (size int64, root []byte, verifiedAt time.Time, found bool, err error)
	// PutPeerCheckpoint records a member's checkpoint, with the member's
	// signed heartbeat that carried it (evidence, should the member later
	// contradict it), replacing the one before.
	PutPeerCheckpoint(ctx context.Context, code v1.AuthorityCode, size int64, root []byte, verifiedAt time.Time, heartbeat []byte) error
	// PeerCheckpointHeartbeat returns the heartbeat kept with a member's
	// checkpoint, or nil.
	PeerCheckpointHeartbeat(code v1.AuthorityCode) ([]byte, error)
	// DeletePeerCheckpoint forgets a member's checkpoint (AcceptAuditHistory).
	DeletePeerCheckpoint(ctx context.Context, code v1.AuthorityCode) error
}

// ProofConfig turns on audit consistency proofs (EnableAuditProofs).
type ProofConfig struct {
	// Prover proves this node's own audit log to members that ask.
	Prover ConsistencyProver
	// References keeps the checkpoint last verified for each member.
	References PeerCheckpoints
	// RetryMax caps the wait before asking again a member that did not
	// answer (the wait starts at the heartbeat interval and doubles); zero
	// means 5 minutes.
	RetryMax time.Duration
}

// Bounds of the checker.
const (
	// maxFetches bounds the proofs this node fetches at once.
	maxFetches = 4
	// defaultProofRetryMax is ProofConfig.RetryMax when zero.
	defaultProofRetryMax = 5 * time.Minute
)

// ConflictInconsistent is the conflict reason of a member whose larger
// checkpoint could not be proved an extension of the one verified before: a
// proof that does not verify, a refusal, or a malformed answer. Its audit log
// was rewritten (possibly then grown past its old size) or forked.
const ConflictInconsistent = "not provably an extension of the verified checkpoint"

// auditMetrics are the proof counters. Labels are fixed results, never
// authorities.
type auditMetrics struct {
	proofs *prometheus.CounterVec // result: verified, failed, unreachable, adopted
	served *prometheus.CounterVec // result: the status sent, or not_member, malformed
}

// auditProofs returns the service's checker, nil when proofs are off.
func (s *Service) auditProofs() *proofChecker { return s.proofs.Load() }

func newAuditMetrics() *auditMetrics {
	const ns, sub = "nrmnet", "gossip"
	return &auditMetrics{
		proofs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audit_proofs_total", Help: "Audit consistency checks of members' checkpoints, by result: verified (proof checked), failed (no valid proof: a conflict), unreachable (asked again later), adopted (a member's first checkpoint, taken on trust)."}, []string{"result"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audit_proofs_served_total", Help: "Audit consistency proof requests from peers, by answer (ok, beyond_log, busy, unavailable) or refusal (not_member, malformed)."}, []string{"result"}),
	}
}

// EnableAuditProofs turns on audit consistency proofs: this node answers
// members' proof requests on AuditProofProtocol, and checks that each
// member's audit checkpoint only grows. When a member's heartbeat shows a
// larger checkpoint than the one last verified for it, the node asks that
// member for a consistency proof and verifies it; a proof that does not
// verify, or a refusal, raises a CheckpointConflict (ConflictInconsistent).
// The verified checkpoint of each member is kept in cfg.References. Call it
// once, right after New.
func (s *Service) EnableAuditProofs(cfg ProofConfig) error {
	if cfg.Prover == nil || cfg.References == nil {
		return fmt.Errorf("%w: audit proofs need a Prover and References", ErrConfig)
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = defaultProofRetryMax
	}
	if cfg.RetryMax < s.cfg.HeartbeatInterval {
		return fmt.Errorf("%w: audit proofs: RetryMax must be at least HeartbeatInterval", ErrConfig)
	}
	m := newAuditMetrics()
	pc := &proofChecker{
		s:       s,
		cfg:     cfg,
		metrics: m,
		server:  &proofServer{s: s, prover: cfg.Prover, metrics: m, slots: make(chan struct{}, proofSlots), buckets: map[peer.ID]*bucket{}},
		beats:   make(chan *Heartbeat, 64),
		results: make(chan proofResult, maxFetches),
		accepts: make(chan acceptRequest),
		members: map[v1.AuthorityCode]*proofState{},
	}
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing {
		return ErrClosed
	}
	if !s.proofs.CompareAndSwap(nil, pc) {
		return fmt.Errorf("%w: audit proofs are already on", ErrConfig)
	}
	if s.cfg.Registry != nil {
		for _, c := range []prometheus.Collector{pc.metrics.proofs, pc.metrics.served} {
			if err := s.cfg.Registry.Register(c); err != nil {
				s.proofs.Store(nil)
				return fmt.Errorf("%w: audit proof metrics: %v", ErrConfig, err)
			}
		}
	}
	s.wg.Add(1)
	s.host.Libp2p().SetStreamHandler(AuditProofProtocol, s.tracked(pc.server.serve))
	go pc.loop()
	return nil
}

// proofChecker checks members' audit checkpoints. One goroutine (loop) owns
// the decisions and the stored references; fetches run on their own
// goroutines; the view reads the state under mu.
type proofChecker struct {
	s       *Service
	cfg     ProofConfig
	metrics *auditMetrics
	server  *proofServer
	beats   chan *Heartbeat
	results chan proofResult
	accepts chan acceptRequest
	fetches int // running; owned by loop

	mu      sync.Mutex
	members map[v1.AuthorityCode]*proofState
}

// proofState is what the checker keeps per member.
type proofState struct {
	loaded     bool       // the stored reference was read
	ref        Checkpoint // the last verified checkpoint; Size 0: none yet
	verifiedAt time.Time
	latest     Checkpoint // the latest checkpoint the member published
	latestHB   []byte     // the signed heartbeat that carried latest
	// refSentAt and latestSentAt are when the member sent the heartbeats
	// that carried ref and latest: a heartbeat sent no later is an old one
	// still going round (pubsub's history, after this node restarted), not
	// news, and is not compared.
	refSentAt, latestSentAt time.Time
	fetching                bool
	failures                int
	nextTry                 time.Time
	unverified              string // why latest is not verified yet; "" when it is
	conflict                bool   // raised; no more proofs asked until restart
}

// proofResult is the outcome of one fetch.
type proofResult struct {
	code   v1.AuthorityCode
	old    Checkpoint
	target Checkpoint
	hb     []byte    // the signed heartbeat that carried target
	sentAt time.Time // when the member sent it
	err    error     // nil: verified; errProofUnreachable; anything else: a conflict
}

// observe hands a member's heartbeat to the checker; it never blocks (a
// heartbeat dropped here is followed by the next one).
func (pc *proofChecker) observe(hb *Heartbeat) {
	if hb.Authority == pc.s.me {
		return
	}
	select {
	case pc.beats <- hb:
	default:
	}
}

func (pc *proofChecker) loop() {
	s := pc.s
	defer s.wg.Done()
	defer s.proofs.Store(nil)
	for _, m := range s.host.Roster().Members {
		if m.Authority != s.me {
			pc.state(m.Authority)
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case hb := <-pc.beats:
			pc.check(hb)
		case r := <-pc.results:
			pc.fetches--
			pc.settle(r)
		case a := <-pc.accepts:
			a.done <- pc.accept(a.code)
		}
	}
}

// state returns a member's state, reading its stored reference the first
// time (loop only).
func (pc *proofChecker) state(code v1.AuthorityCode) *proofState {
	pc.mu.Lock()
	st := pc.members[code]
	if st == nil {
		st = &proofState{}
		pc.members[code] = st
	}
	loaded := st.loaded
	pc.mu.Unlock()
	if loaded {
		return st
	}
	size, root, at, found, err := pc.cfg.References.PeerCheckpoint(code)
	var sentAt time.Time
	if found && err == nil {
		if b := pc.refHeartbeat(code); b != nil {
			if hb, err := UnmarshalHeartbeat(b); err == nil {
				sentAt = hb.SentAt
			}
		}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case err != nil:
		pc.s.log.Error("cannot read the audit checkpoint verified for a member; will try again", "authority", code, "err", err)
		st.unverified = "stored reference unreadable"
	case found:
		st.loaded, st.ref, st.verifiedAt, st.refSentAt = true, Checkpoint{Size: size, Root: root}, at, sentAt
	default:
		st.loaded = true
	}
	return st
}

// check compares a member's heartbeat checkpoint with the reference and the
// checkpoint before, and starts a fetch when it grew. Only loop changes a
// state, under mu; it reads without.
func (pc *proofChecker) check(hb *Heartbeat) {
	s := pc.s
	cp := Checkpoint{Size: hb.Checkpoint.Size, Root: slices.Clone(hb.Checkpoint.Root)}
	if cp.Size == 0 && len(cp.Root) == 0 {
		return // the node reports no audit log yet (or has just started)
	}
	st := pc.state(hb.Authority)
	if !st.loaded || st.conflict {
		return
	}
	if cp.Size < 1 || len(cp.Root) != tlog.HashSize {
		pc.set(func() { st.unverified = "checkpoint root is not a 32-byte hash" })
		return
	}
	if !hb.SentAt.After(st.refSentAt) || !hb.SentAt.After(st.latestSentAt) {
		return // sent before the heartbeat already checked: old news
	}
	signed := signedHeartbeat(hb)
	// Against the verified reference, then against the latest published
	// (unverified, but signed by the member all the same).
	for i, prev := range []Checkpoint{st.ref, st.latest} {
		if prev.Size == 0 {
			continue
		}
		reason := ""
		switch {
		case cp.Size == prev.Size && !bytes.Equal(cp.Root, prev.Root):
			reason = ConflictForked
		case cp.Size < prev.Size:
			reason = ConflictShrunk
		}
		if reason != "" {
			ref := st.latestHB
			if i == 0 {
				ref = pc.refHeartbeat(hb.Authority)
			}
			pc.set(func() { st.conflict, st.unverified = true, reason })
			s.raiseConflict(CheckpointConflict{Authority: hb.Authority, Previous: prev, Got: cp, Reason: reason, At: s.now(),
				Reference: ref, Heartbeat: signed})
			return
		}
	}
	pc.set(func() { st.latest, st.latestHB, st.latestSentAt = cp, signed, hb.SentAt })
	now := s.now()
	switch {
	case st.ref.Size == 0:
		// The first checkpoint seen of a member is taken on trust.
		if err := pc.cfg.References.PutPeerCheckpoint(s.ctx, hb.Authority, cp.Size, cp.Root, now.UTC(), signed); err != nil {
			s.log.Error("cannot record a member's first audit checkpoint; will try again", "authority", hb.Authority, "err", err)
			pc.set(func() { st.unverified = "reference not recorded" })
			return
		}
		pc.set(func() { st.ref, st.refSentAt, st.verifiedAt, st.unverified = cp, hb.SentAt, now.UTC(), "" })
		pc.metrics.proofs.WithLabelValues("adopted").Inc()
	case cp.Size == st.ref.Size:
		pc.set(func() { st.unverified = "" })
	case st.fetching || now.Before(st.nextTry) || pc.fetches >= maxFetches:
		if st.unverified == "" {
			pc.set(func() { st.unverified = "proof pending" })
		}
	default:
		p, ok := pc.peerOf(hb.Authority)
		if !ok {
			return
		}
		pc.set(func() { st.fetching, st.unverified = true, "proof pending" })
		pc.fetches++
		s.wg.Add(1) // loop holds the group open
		go pc.fetch(p, hb.Authority, st.ref, cp, signed, hb.SentAt)
	}
}

// signedHeartbeat returns a heartbeat's signed envelope as the member
// published it (its encoding is canonical), or nil.
func signedHeartbeat(hb *Heartbeat) []byte {
	b, err := MarshalHeartbeat(hb)
	if err != nil {
		return nil
	}
	return b
}

// refHeartbeat returns the signed heartbeat kept with a member's verified
// checkpoint, or nil (loop only).
func (pc *proofChecker) refHeartbeat(code v1.AuthorityCode) []byte {
	b, err := pc.cfg.References.PeerCheckpointHeartbeat(code)
	if err != nil {
		pc.s.log.Error("cannot read the heartbeat kept with a member's verified checkpoint", "authority", code, "err", err)
		return nil
	}
	return b
}

// set runs a change of state under mu (loop only).
func (pc *proofChecker) set(change func()) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	change()
}

// peerOf returns the peer ID the roster in force gives an authority.
func (pc *proofChecker) peerOf(code v1.AuthorityCode) (peer.ID, bool) {
	m, ok := pc.s.host.Roster().Member(authority.Code(code))
	if !ok {
		return "", false
	}
	p, err := peer.Decode(m.PeerID)
	return p, err == nil
}

// fetch asks the member for a proof from old to target, verifies it and
// hands the outcome to loop.
func (pc *proofChecker) fetch(p peer.ID, code v1.AuthorityCode, old, target Checkpoint, hb []byte, sentAt time.Time) {
	s := pc.s
	defer s.wg.Done()
	r := proofResult{code: code, old: old, target: target, hb: hb, sentAt: sentAt}
	proof, err := s.fetchProof(p, old.Size, target.Size)
	if err == nil {
		err = tlog.CheckTree(proof, target.Size, tlog.Hash(target.Root), old.Size, tlog.Hash(old.Root))
		if err != nil {
			err = fmt.Errorf("the proof from size %d to %d does not verify: %w", old.Size, target.Size, err)
		}
	}
	r.err = err
	select {
	case pc.results <- r:
	case <-s.ctx.Done():
	}
}

// settle records the outcome of a fetch (loop only).
func (pc *proofChecker) settle(r proofResult) {
	s := pc.s
	now := s.now()
	st := pc.members[r.code]
	pc.set(func() { st.fetching = false })
	if r.old.Size != st.ref.Size || !bytes.Equal(r.old.Root, st.ref.Root) {
		return // asked from a reference an operator has since dropped
	}
	switch {
	case r.err == nil:
		pc.metrics.proofs.WithLabelValues("verified").Inc()
		if st.conflict || r.target.Size <= st.ref.Size {
			return
		}
		if err := pc.cfg.References.PutPeerCheckpoint(s.ctx, r.code, r.target.Size, r.target.Root, now.UTC(), r.hb); err != nil {
			// Kept in memory: the next growth is proved from here and stored.
			s.log.Error("cannot record a member's verified audit checkpoint", "authority", r.code, "err", err)
		}
		pc.set(func() {
			st.failures, st.nextTry = 0, time.Time{}
			st.ref, st.refSentAt, st.verifiedAt = r.target, r.sentAt, now.UTC()
			if st.latest.Size == st.ref.Size {
				st.unverified = ""
			}
		})
		s.log.Debug("member's audit checkpoint verified", "authority", r.code, "from_size", r.old.Size, "size", r.target.Size)
	case errors.Is(r.err, errProofUnreachable):
		pc.metrics.proofs.WithLabelValues("unreachable").Inc()
		wait := min(s.cfg.HeartbeatInterval<<min(st.failures, 20), pc.cfg.RetryMax)
		pc.set(func() {
			st.failures++
			st.nextTry = now.Add(wait)
			st.unverified = "member did not answer"
		})
		s.log.Info("member did not prove its audit checkpoint; will ask again", "authority", r.code, "retry_in", wait, "err", r.err)
	default:
		pc.metrics.proofs.WithLabelValues("failed").Inc()
		if st.conflict {
			return
		}
		pc.set(func() { st.conflict, st.unverified = true, ConflictInconsistent })
		s.raiseConflict(CheckpointConflict{Authority: r.code, Previous: r.old, Got: r.target, Reason: ConflictInconsistent, Detail: r.err.Error(), At: now,
			Reference: pc.refHeartbeat(r.code), Heartbeat: r.hb})
	}
}

// acceptRequest asks the checker's loop to drop a member's reference.
type acceptRequest struct {
	code v1.AuthorityCode
	done chan error
}

// AcceptedHistory is why a member's checkpoint is unverified once an
// operator accepted its new audit history, until its next heartbeat.
const AcceptedHistory = "new history accepted by an operator; the next checkpoint is taken on trust"

// accept drops a member's stored and remembered checkpoints and its
// conflict, so that its next heartbeat's checkpoint is taken on trust and
// proofs continue from there (loop only).
func (pc *proofChecker) accept(code v1.AuthorityCode) error {
	s := pc.s
	if err := pc.cfg.References.DeletePeerCheckpoint(s.ctx, code); err != nil {
		return fmt.Errorf("forget the audit checkpoint verified for %s: %w", code, err)
	}
	st := pc.state(code)
	pc.set(func() {
		*st = proofState{loaded: true, unverified: AcceptedHistory}
	})
	pc.metrics.proofs.WithLabelValues("accepted").Inc()
	return nil
}

// fill adds the member's verification state to its row of the view.
func (pc *proofChecker) fill(ms *MemberStatus) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	st := pc.members[ms.Authority]
	if st == nil {
		return
	}
	ms.AuditVerified = Checkpoint{Size: st.ref.Size, Root: slices.Clone(st.ref.Root)}
	ms.AuditVerifiedAt = st.verifiedAt
	ms.AuditUnverified = st.unverified
	ms.CheckpointConflict = ms.CheckpointConflict || st.conflict
}
