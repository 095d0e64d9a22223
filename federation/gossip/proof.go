package gossip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/mod/sumdb/tlog"

	"nrmnet/federation/internal/frame"
	"nrmnet/schemas"
)

// The audit proof exchange, over one stream opened by the node that checks:
//
//	checker -> member  audit_proof_request   {old size, new size}
//	member -> checker  audit_proof_response  {status, proof hashes}
//
// Each message is one frame (federation/internal/frame: 4-byte length, then
// the envelope). The member proves, with tlog, that its audit log's tree of
// the old size is a prefix of its tree of the new size; the checker verifies
// the proof against the two roots it holds. See DESIGN.md, "Status and the
// region view".

// AuditProofProtocol is the stream protocol of audit consistency proofs.
const AuditProofProtocol = protocol.ID("/nrmnet/audit-proof/1")

// Kinds of the audit proof messages.
const (
	KindAuditProofRequest  schemas.Kind = "audit_proof_request"
	KindAuditProofResponse schemas.Kind = "audit_proof_response"
)

// Limits of the audit proof exchange.
const (
	// maxAuditSize bounds a log size on the wire (2^62 entries: far beyond
	// any real log, and small enough that tlog's arithmetic cannot overflow).
	maxAuditSize = int64(1) << 62
	// maxProofHashes bounds the hashes in one proof: a tlog consistency
	// proof between two sizes below 2^62 holds at most about 2*62.
	maxProofHashes = 128
	// maxProofRequestFrame and maxProofResponseFrame bound the frames.
	maxProofRequestFrame  = 256
	maxProofResponseFrame = 8 << 10
)

// Response statuses.
const (
	// proofOK: the proof follows.
	proofOK = "ok"
	// proofBeyond: the new size is beyond the member's log: it cannot prove
	// a checkpoint it published. The checker raises a conflict.
	proofBeyond = "beyond_log"
	// proofBusy: the member refused for load (rate limit); ask later.
	proofBusy = "busy"
	// proofUnavailable: the member could not read its log now; ask later.
	proofUnavailable = "unavailable"
)

// ConsistencyProver proves this node's own audit log to the members that
// check it. *storage.Store implements it.
type ConsistencyProver interface {
	// AuditSize returns the number of entries in the log.
	AuditSize() (int64, error)
	// ProveConsistency proves the log's tree of oldSize a prefix of its
	// tree of newSize.
	ProveConsistency(oldSize, newSize int64) (tlog.TreeProof, error)
}

// auditProofRequest asks a member to prove its log's tree of size Old a
// prefix of its tree of size New.
type auditProofRequest struct {
	Old int64 `cbor:"old"`
	New int64 `cbor:"new"`
}

func (r *auditProofRequest) validate() error {
	ch := schemas.NewChecker()
	ch.Check(r.Old >= 1, "old", "must be at least 1")
	ch.Check(r.New > r.Old, "new", "must be larger than old")
	ch.Check(r.New <= maxAuditSize, "new", "is over %d", maxAuditSize)
	return ch.Err()
}

// auditProofResponse answers a request: a status and, when it is "ok", the
// proof's hashes.
type auditProofResponse struct {
	Status string   `cbor:"status"`
	Proof  [][]byte `cbor:"proof,omitempty"`
}

func (r *auditProofResponse) validate() error {
	ch := schemas.NewChecker()
	switch r.Status {
	case proofOK:
		ch.Check(len(r.Proof) <= maxProofHashes, "proof", "holds more than %d hashes", maxProofHashes)
		if len(r.Proof) <= maxProofHashes {
			for i, h := range r.Proof {
				ch.Check(len(h) == tlog.HashSize, fmt.Sprintf("proof[%d]", i), "is %d bytes, want %d", len(h), tlog.HashSize)
			}
		}
	case proofBeyond, proofBusy, proofUnavailable:
		ch.Check(len(r.Proof) == 0, "proof", "must be empty when the status is %q", r.Status)
	default:
		ch.Fail("status", "%.40q is not a known status", r.Status)
	}
	return ch.Err()
}

// treeProof returns the response's proof in tlog's type (validated first).
func (r *auditProofResponse) treeProof() tlog.TreeProof {
	p := make(tlog.TreeProof, len(r.Proof))
	for i, h := range r.Proof {
		copy(p[i][:], h)
	}
	return p
}

func encodeProofRequest(r *auditProofRequest) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofRequest, err)
	}
	return schemas.Seal(KindAuditProofRequest, WireVersion, r)
}

// decodeProofRequest decodes and validates a request envelope.
func decodeProofRequest(data []byte) (*auditProofRequest, error) {
	if len(data) > maxProofRequestFrame {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit %d", KindAuditProofRequest, schemas.ErrTooLarge, len(data), maxProofRequestFrame)
	}
	var r auditProofRequest
	if err := openAs(data, KindAuditProofRequest, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofRequest, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofRequest, err)
	}
	return &r, nil
}

func encodeProofResponse(r *auditProofResponse) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofResponse, err)
	}
	return schemas.Seal(KindAuditProofResponse, WireVersion, r)
}

// decodeProofResponse decodes and validates a response envelope.
func decodeProofResponse(data []byte) (*auditProofResponse, error) {
	if len(data) > maxProofResponseFrame {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit %d", KindAuditProofResponse, schemas.ErrTooLarge, len(data), maxProofResponseFrame)
	}
	var r auditProofResponse
	if err := openAs(data, KindAuditProofResponse, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofResponse, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", KindAuditProofResponse, err)
	}
	return &r, nil
}

// Errors of fetchProof, sorted by what the checker does with them.
var (
	// errProofUnreachable: no answer (dial, stream, deadline, reset), or an
	// answer of "busy" or "unavailable". Not a conflict: asked again later.
	errProofUnreachable = errors.New("member did not answer")
	// errProofRefused: the member answered that it cannot prove a checkpoint
	// it published, or answered with a malformed message. A conflict.
	errProofRefused = errors.New("member could not prove its checkpoint")
)

// fetchProof asks p for a proof that its log of size old is a prefix of its
// log of size new.
func (s *Service) fetchProof(p peer.ID, old, new int64) (tlog.TreeProof, error) {
	req, err := encodeProofRequest(&auditProofRequest{Old: old, New: new})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.host.Libp2p().NewStream(ctx, p, AuditProofProtocol)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProofUnreachable, err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	if s.tap != nil {
		s.tap("send audit proof request", req)
	}
	if err := frame.Write(st, req, maxProofRequestFrame); err != nil {
		st.Reset()
		return nil, fmt.Errorf("%w: send request: %v", errProofUnreachable, err)
	}
	if err := st.CloseWrite(); err != nil {
		st.Reset()
		return nil, fmt.Errorf("%w: send request: %v", errProofUnreachable, err)
	}
	b, err := frame.Read(st, maxProofResponseFrame)
	if errors.Is(err, frame.ErrTooLarge) {
		st.Reset()
		return nil, fmt.Errorf("%w: %v", errProofRefused, err)
	}
	if err != nil {
		st.Reset()
		return nil, fmt.Errorf("%w: read answer: %v", errProofUnreachable, err)
	}
	if s.tap != nil {
		s.tap("receive audit proof response", b)
	}
	resp, err := decodeProofResponse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProofRefused, err)
	}
	switch resp.Status {
	case proofOK:
		return resp.treeProof(), nil
	case proofBeyond:
		return nil, fmt.Errorf("%w: it says size %d is beyond its log", errProofRefused, new)
	default:
		return nil, fmt.Errorf("%w: it answered %q", errProofUnreachable, resp.Status)
	}
}

// proofServer answers audit proof requests from members.
type proofServer struct {
	s       *Service
	prover  ConsistencyProver
	metrics *auditMetrics
	// slots bounds the requests served at once.
	slots chan struct{}

	mu      sync.Mutex
	buckets map[peer.ID]*bucket
}

// Server limits: a member may ask proofBurst times at once, then once per
// half heartbeat interval (an honest checker asks at most once per heartbeat
// of ours); at most proofSlots requests are served at once.
const (
	proofBurst = 4
	proofSlots = 8
)

// bucket is one peer's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token from p's bucket, if there is one.
func (ps *proofServer) allow(p peer.ID) bool {
	now := ps.s.now()
	refill := max(ps.s.cfg.HeartbeatInterval/2, 10*time.Millisecond)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	b := ps.buckets[p]
	if b == nil {
		if len(ps.buckets) >= 1024 {
			clear(ps.buckets) // members only reach here; this never fills in practice
		}
		b = &bucket{tokens: proofBurst, at: now}
		ps.buckets[p] = b
	}
	b.tokens = min(proofBurst, b.tokens+float64(now.Sub(b.at))/float64(refill))
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// serve answers one request. A stream from a peer that is not a member of
// the roster in force is reset unread.
func (ps *proofServer) serve(st network.Stream) {
	s := ps.s
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	remote := st.Conn().RemotePeer()
	m := ps.metrics
	if _, ok := s.host.Member(remote); !ok {
		m.served.WithLabelValues("not_member").Inc()
		st.Reset()
		return
	}
	b, err := frame.Read(st, maxProofRequestFrame)
	if err != nil {
		m.served.WithLabelValues("malformed").Inc()
		s.log.Debug("audit proof request unread", "peer", remote, "err", err)
		st.Reset()
		return
	}
	if s.tap != nil {
		s.tap("receive audit proof request", b)
	}
	req, err := decodeProofRequest(b)
	if err != nil {
		m.served.WithLabelValues("malformed").Inc()
		s.log.Debug("audit proof request malformed", "peer", remote, "err", err)
		st.Reset()
		return
	}
	resp := ps.answer(remote, req)
	m.served.WithLabelValues(resp.Status).Inc()
	env, err := encodeProofResponse(resp)
	if err != nil {
		s.log.Error("audit proof answer invalid; not sent", "err", err)
		st.Reset()
		return
	}
	if s.tap != nil {
		s.tap("send audit proof response", env)
	}
	if err := frame.Write(st, env, maxProofResponseFrame); err != nil {
		st.Reset()
		return
	}
	_ = st.CloseWrite()
}

func (ps *proofServer) answer(remote peer.ID, req *auditProofRequest) *auditProofResponse {
	s := ps.s
	if !ps.allow(remote) {
		return &auditProofResponse{Status: proofBusy}
	}
	select {
	case ps.slots <- struct{}{}:
		defer func() { <-ps.slots }()
	default:
		return &auditProofResponse{Status: proofBusy}
	}
	size, err := ps.prover.AuditSize()
	if err != nil {
		s.log.Error("cannot read this node's audit log size for a member's proof request", "err", err)
		return &auditProofResponse{Status: proofUnavailable}
	}
	if req.New > size {
		// An honest log never shrinks: the member asks about a checkpoint
		// this log does not hold (rolled back, or never published).
		s.log.Warn("a member asked for an audit proof beyond this node's log; it will raise a conflict",
			"peer", remote, "size", req.New, "log_size", size)
		return &auditProofResponse{Status: proofBeyond}
	}
	p, err := ps.prover.ProveConsistency(req.Old, req.New)
	if err != nil {
		s.log.Error("cannot prove this node's audit log consistent for a member; check the audit log (nrmnet audit verify)",
			"old_size", req.Old, "new_size", req.New, "err", err)
		return &auditProofResponse{Status: proofUnavailable}
	}
	if len(p) > maxProofHashes {
		s.log.Error("audit consistency proof longer than the wire allows", "hashes", len(p))
		return &auditProofResponse{Status: proofUnavailable}
	}
	resp := &auditProofResponse{Status: proofOK}
	for _, h := range p {
		resp.Proof = append(resp.Proof, h[:])
	}
	return resp
}
