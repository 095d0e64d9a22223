package rpc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Relocations runs this node's side of every relocation hand-over: the API
// the node calls (Request, Accept, Reject, Revoke), the stream handler for
// peers' messages, and the delivery of what this side owes its peers.
//
// One goroutine (the loop) reads and writes records and calls the node's
// callbacks; handlers and deliverers send it operations. Network I/O never
// happens on the loop, so two nodes sending to each other cannot deadlock.
type Relocations struct {
	cfg  Config
	net  Network
	host host.Host
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	ops    chan op
	done   chan struct{} // closed when the loop has exited

	delivering map[v1.ID]bool // owned by the loop

	mu      sync.Mutex // guards closed, streams and wg.Add
	closed  bool
	streams map[network.Stream]struct{}
	wg      sync.WaitGroup

	notes     *notifier
	closeOnce sync.Once
}

type op struct {
	fn   func() error
	done chan error
}

// New starts the service on net: it registers the stream handler and resumes
// every unfinished hand-over in the store. It runs until Close.
func New(net Network, cfg Config) (*Relocations, error) {
	if net == nil {
		return nil, fmt.Errorf("%w: network is required", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := net.Libp2p()
	pub, err := h.ID().ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: host peer ID: %w", ErrConfig, err)
	}
	raw, _ := pub.Raw()
	if !bytes.Equal(raw, cfg.Identity.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("%w: identity is not the host's key", ErrConfig)
	}
	if l, ok := net.Lookup(cfg.Authority); !ok {
		return nil, fmt.Errorf("%w: %s is not on the roster", ErrConfig, cfg.Authority)
	} else if id, err := l.Member.ID(); err != nil || id != h.ID() {
		return nil, fmt.Errorf("%w: the roster lists another peer for %s", ErrConfig, cfg.Authority)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Relocations{
		cfg: cfg, net: net, host: h,
		log:        cfg.Logger.With("component", "relocation", "authority", string(cfg.Authority)),
		ctx:        ctx,
		cancel:     cancel,
		ops:        make(chan op),
		done:       make(chan struct{}),
		delivering: map[v1.ID]bool{},
		streams:    map[network.Stream]struct{}{},
		notes:      newNotifier(cfg.Observer),
	}
	go s.loop()
	h.SetStreamHandler(ProtocolID, s.handleStream)
	if err := s.do(ctx, s.resume); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("resuming hand-overs: %w", err)
	}
	return s, nil
}

// Close stops the service: it stops accepting streams, resets those open,
// stops the loop, waits for every goroutine and the observer's backlog.
// Records stay as they are; New resumes them. It may be called more than once.
func (s *Relocations) Close() error {
	s.closeOnce.Do(func() {
		s.host.RemoveStreamHandler(ProtocolID)
		s.mu.Lock()
		s.closed = true
		for st := range s.streams {
			_ = st.Reset()
		}
		s.mu.Unlock()
		s.cancel()
		<-s.done
		s.wg.Wait()
		s.notes.close()
	})
	return nil
}

func (s *Relocations) loop() {
	defer close(s.done)
	for {
		select {
		case o := <-s.ops:
			o.done <- o.fn()
		case <-s.ctx.Done():
			return
		}
	}
}

// do runs fn on the loop and returns its error.
func (s *Relocations) do(ctx context.Context, fn func() error) error {
	o := op{fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-s.done:
		return ErrClosed
	}
}

// resume starts delivery for every unfinished hand-over. Runs on the loop.
func (s *Relocations) resume() error {
	all, err := s.cfg.Store.List(s.ctx)
	if err != nil {
		return err
	}
	n := 0
	for i := range all {
		if owes(&all[i]) {
			s.kick(all[i].ID())
			n++
		}
	}
	s.log.Info("relocation service started", "handovers", len(all), "resumed", n)
	return nil
}

// owes reports whether this side owes its peer a message for h.
func owes(h *Handover) bool {
	if h.Failure != "" {
		return false
	}
	if h.Side == SideOrigin {
		switch h.State {
		case StateAccepted, StateCaseSent:
			return true
		case StateRequested, StateRevoked, StateCompleted:
			return !h.Acked
		}
		return false
	}
	return (h.State == StateAccepted || h.State == StateRejected) && !h.Acked
}

// kick starts a deliverer for id unless one runs. Runs on the loop.
func (s *Relocations) kick(id v1.ID) {
	if s.delivering[id] {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.delivering[id] = true
	s.wg.Add(1)
	go s.deliver(id)
}

// persist stores h, tells the observer and starts delivery if it owes a
// message. Runs on the loop.
func (s *Relocations) persist(h *Handover) error {
	h.Updated = s.cfg.Now().UTC()
	if err := s.cfg.Store.Put(s.ctx, *h); err != nil {
		return err
	}
	s.log.Info("hand-over", "request", string(h.ID()), "side", string(h.Side), "state", string(h.State),
		"acked", h.Acked, "peer", string(h.Peer()))
	s.notes.send(*h)
	if owes(h) {
		s.kick(h.ID())
	}
	return nil
}

// audit validates and records an audit entry. Runs on the loop.
func (s *Relocations) audit(actor string, action v1.AuditAction, subject string, peerCode v1.AuthorityCode, basis v1.LegalBasis, purpose, reason string) error {
	e := v1.AuditEntry{
		At: s.cfg.Now().UTC(), Authority: s.cfg.Authority, Actor: actor, Action: action,
		Subject: subject, Recipient: string(peerCode), Purpose: purpose, LegalBasis: basis,
		Outcome: v1.AuditAllowed, Reason: reason,
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	if err := s.cfg.Audit.Audit(s.ctx, e); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Audit actions this package adds to those of schemas/v1.
const (
	ActionRelocationReceive  v1.AuditAction = "relocation.receive"  // an offer arrived
	ActionRelocationComplete v1.AuditAction = "relocation.complete" // transferred out / responsibility taken
)

// Request records a relocation request from this authority and starts
// offering it to the destination. req.Origin must be this authority and the
// destination a member of the roster. Requesting the same request again
// returns the record; a different request under a used ID is ErrConflict.
func (s *Relocations) Request(ctx context.Context, actor string, req v1.RelocationRequest) (Handover, error) {
	if err := req.Validate(); err != nil {
		return Handover{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if req.Origin != s.cfg.Authority {
		return Handover{}, fmt.Errorf("%w: origin is %s, but this node is %s", ErrInvalidRequest, req.Origin, s.cfg.Authority)
	}
	if l, ok := s.net.Lookup(req.Destination); !ok || !l.Member.HasRole(roster.RoleAuthority) {
		return Handover{}, fmt.Errorf("%w: destination %s is not an authority on the roster", ErrInvalidRequest, req.Destination)
	}
	var out Handover
	err := s.do(ctx, func() error {
		old, ok, err := s.cfg.Store.Get(s.ctx, req.ID)
		if err != nil {
			return err
		}
		if ok {
			if old.Side != SideOrigin || !sameRequest(&old.Request, &req) {
				return fmt.Errorf("%w: %s", ErrConflict, req.ID)
			}
			out = old
			return nil
		}
		if err := s.audit(actor, v1.ActionRelocationRequest, string(req.CaseRef), req.Destination, req.LegalBasis,
			"relocation request "+string(req.ID)+": a summary without identity sent to the destination", ""); err != nil {
			return err
		}
		h := Handover{Request: req, Side: SideOrigin, State: StateRequested}
		if err := s.persist(&h); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

// Accept records this authority's acceptance of an offered relocation and
// starts telling the origin. The returned record's Acked says whether the
// origin has recorded it yet; if the origin revoked first, the hand-over
// ends revoked on both sides.
func (s *Relocations) Accept(ctx context.Context, actor string, id v1.ID) (Handover, error) {
	return s.decide(ctx, actor, id, v1.RelocationAccept, "")
}

// Reject records this authority's rejection of an offered relocation, with
// its reason (required; no personal data), and starts reporting it to the
// origin.
func (s *Relocations) Reject(ctx context.Context, actor string, id v1.ID, reason string) (Handover, error) {
	return s.decide(ctx, actor, id, v1.RelocationReject, reason)
}

func (s *Relocations) decide(ctx context.Context, actor string, id v1.ID, d v1.RelocationDecision, reason string) (Handover, error) {
	resp := v1.RelocationResponse{RequestID: id, Decision: d, By: s.cfg.Authority, At: s.cfg.Now().UTC(), Reason: reason}
	if err := resp.Validate(); err != nil {
		return Handover{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	want := StateAccepted
	action := v1.ActionRelocationAccept
	if d == v1.RelocationReject {
		want, action = StateRejected, v1.ActionRelocationReject
	}
	var out Handover
	err := s.do(ctx, func() error {
		h, err := s.get(id)
		if err != nil {
			return err
		}
		out = h
		if h.Side != SideDestination {
			return fmt.Errorf("%w: %s is the origin of %s", ErrNotDestination, s.cfg.Authority, id)
		}
		switch {
		case h.State == want:
			return nil // already decided so
		case h.State == StateRevoked:
			return fmt.Errorf("%w: %s", ErrRevoked, id)
		case h.State != StateOffered:
			return fmt.Errorf("%w: %s is %s", ErrFinished, id, h.State)
		}
		if err := s.audit(actor, action, string(id), h.Request.Origin, h.Request.LegalBasis,
			"decision on relocation request from "+string(h.Request.Origin), reason); err != nil {
			return err
		}
		h.State, h.Decision, h.Acked = want, &resp, false
		if err := s.persist(&h); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

// Revoke withdraws a relocation this authority requested. It is refused with
// ErrAlreadyAccepted once the destination's acceptance is recorded here.
func (s *Relocations) Revoke(ctx context.Context, actor string, id v1.ID, reason string) (Handover, error) {
	resp := v1.RelocationResponse{RequestID: id, Decision: v1.RelocationRevoke, By: s.cfg.Authority, At: s.cfg.Now().UTC(), Reason: reason}
	if err := resp.Validate(); err != nil {
		return Handover{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	var out Handover
	err := s.do(ctx, func() error {
		h, err := s.get(id)
		if err != nil {
			return err
		}
		out = h
		if h.Side != SideOrigin {
			return fmt.Errorf("%w: %s is the destination of %s", ErrNotOrigin, s.cfg.Authority, id)
		}
		switch h.State {
		case StateRevoked:
			return nil
		case StateAccepted, StateCaseSent, StateCompleted:
			return fmt.Errorf("%w: %s accepted %s", ErrAlreadyAccepted, h.Request.Destination, id)
		case StateRejected:
			return fmt.Errorf("%w: %s rejected %s", ErrFinished, h.Request.Destination, id)
		}
		if err := s.audit(actor, v1.ActionRelocationRevoke, string(h.Request.CaseRef), h.Request.Destination,
			h.Request.LegalBasis, "revoking relocation request "+string(id), reason); err != nil {
			return err
		}
		h.State, h.Decision, h.Acked = StateRevoked, &resp, false
		if err := s.persist(&h); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

// Get returns the record of one hand-over.
func (s *Relocations) Get(ctx context.Context, id v1.ID) (Handover, error) {
	var out Handover
	err := s.do(ctx, func() (err error) { out, err = s.get(id); return err })
	return out, err
}

// List returns every hand-over record held.
func (s *Relocations) List(ctx context.Context) ([]Handover, error) {
	var out []Handover
	err := s.do(ctx, func() (err error) { out, err = s.cfg.Store.List(s.ctx); return err })
	return out, err
}

func (s *Relocations) get(id v1.ID) (Handover, error) {
	h, ok, err := s.cfg.Store.Get(s.ctx, id)
	if err != nil {
		return Handover{}, err
	}
	if !ok {
		return Handover{}, fmt.Errorf("%w: %s", ErrUnknownHandover, clip(string(id)))
	}
	return h, nil
}

func sameRequest(a, b *v1.RelocationRequest) bool {
	x, err1 := schemas.Marshal(a)
	y, err2 := schemas.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// member returns the roster member of an authority and its peer ID.
func (s *Relocations) member(code v1.AuthorityCode) (roster.Member, peer.ID, error) {
	l, ok := s.net.Lookup(code)
	if !ok {
		return l.Member, "", fmt.Errorf("%s is on no roster this node holds", code)
	}
	id, err := l.Member.ID()
	return l.Member, id, err
}

// backoff returns d with up to a quarter of jitter either way, and the next
// d (doubled, capped).
func (s *Relocations) backoff(d time.Duration) (wait, next time.Duration) {
	wait = d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
	next = min(2*d, s.cfg.RetryMax)
	return wait, next
}

// errPermanent marks a delivery failure no retry can mend.
var errPermanent = errors.New("permanent")
